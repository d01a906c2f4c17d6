// The parts of dingtalk-jsapi 3.2.9 the login page uses: the environment (dd.env), dd.ready and
// runtime.permission.requestAuthCode (免登), exposed as window.dd.
var dd = require("dingtalk-jsapi/entry/union");
var requestAuthCode = require("dingtalk-jsapi/api/runtime/permission/requestAuthCode").default;
dd.runtime = Object.assign({}, dd.runtime, { permission: Object.assign({}, dd.runtime && dd.runtime.permission, { requestAuthCode: requestAuthCode }) });
window.dd = dd;
