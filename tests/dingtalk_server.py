"""A local stand-in for DingTalk's server API (oapi), for tests: a threaded http.server on 127.0.0.1 that answers
the way DingTalk's published documentation says, and records what it was asked.

Endpoints (inspections/dingtalk.py cites the pages):

- ``GET /gettoken?appkey=&appsecret=`` → ``{"errcode": 0, "errmsg": "ok", "access_token", "expires_in": 7200}``;
  asked again while the token is valid it returns the same token with its validity renewed; wrong credentials
  → errcode 40089.
- ``POST /topapi/message/corpconversation/asyncsend_v2?access_token=`` with a JSON body ``agent_id``,
  ``userid_list`` (comma-separated), ``msg`` (at most 2048 bytes) → ``{"errcode": 0, "task_id", "request_id"}``.
  The same content to the same user twice in a day is accepted and held back (getsendresult lists the user as
  forbidden, code 143106); a userid not in the directory is accepted and listed as invalid.
- ``POST /topapi/message/corpconversation/getsendresult`` with ``agent_id``, ``task_id`` → ``send_result``.
- ``POST /topapi/v2/user/getuserinfo`` with ``code`` → ``{"errcode": 0, "result": {"userid", "name", …}}``; a code
  is valid 5 minutes and once (else 40078). ``issue_auth_code(userid)`` plays the JSAPI on a member's phone.

A request with an unknown token is refused with 40014, with an expired one with 42001. ``fail_next(n, status=500)``
makes the next n API calls fail (an HTTP status, or ``errcode=-1`` "系统繁忙"); ``lose_next_answer()`` handles
the next send and then drops the connection before answering. Clock: ``time.time()``, which time-machine moves.
"""

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN_SECONDS = 7200
CODE_SECONDS = 300
MSG_MAX_BYTES = 2048
MSG_TYPES = {"text", "image", "voice", "file", "link", "oa", "markdown", "action_card"}


@dataclass
class Sent:
    """One accepted asyncsend_v2 call."""

    task_id: int
    agent_id: int
    userids: list[str]
    msg: dict
    delivered: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


class DingTalkServer:
    def __init__(self, *, app_key: str, app_secret: str, agent_id: int, directory: dict[str, str]):
        self.app_key, self.app_secret, self.agent_id = app_key, app_secret, agent_id
        self.directory = dict(directory)  # userid → name: the organisation's members
        self.tokens: dict[str, float] = {}  # token → expires at (epoch seconds)
        self.codes: dict[str, tuple[str, float]] = {}  # auth code → (userid, issued at)
        self.sent: list[Sent] = []
        self.inbox: dict[str, list[dict]] = {}  # userid → messages that reached the member
        self.requests: list[dict] = []  # every request: method, path, query, body
        self.token_requests = 0
        self._failures: list[dict] = []
        self._lose_answer = False
        self._task_ids = itertools.count(256271667526)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- what tests do to it -----------------------------------------------------------------------------

    def issue_auth_code(self, userid: str) -> str:
        """What dd.runtime.permission.requestAuthCode gives the member's page."""
        code = secrets.token_hex(16)
        self.codes[code] = (userid, time.time())
        return code

    def fail_next(self, count: int = 1, *, status: int = 500, errcode: int | None = None) -> None:
        self._failures += [{"status": status, "errcode": errcode}] * count

    def recover(self) -> None:
        """DingTalk is back: the failures still planned are dropped."""
        self._failures.clear()

    def lose_next_answer(self) -> None:
        self._lose_answer = True

    def revoke_tokens(self) -> None:
        """As if the app secret had been reset: every issued token is unknown from now on."""
        self.tokens.clear()

    def api_calls(self, path: str) -> list[dict]:
        return [request for request in self.requests if request["path"] == path]

    # --- the protocol --------------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        raw = handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(
                {"method": method, "path": url.path, "query": query, "body": body, "content_type": handler.headers.get("Content-Type", "")}
            )
            if url.path != "/gettoken" and self._failures:
                failure = self._failures.pop(0)
                if failure["errcode"] is not None:
                    return self._answer(handler, {"errcode": failure["errcode"], "errmsg": "系统繁忙"})
                return self._answer(handler, {"errcode": -1, "errmsg": "Internal Server Error"}, status=failure["status"])
            answer = self._route(method, url.path, query, body)
            self.requests[-1]["answer"] = answer
            if self._lose_answer and url.path.endswith("asyncsend_v2"):
                self._lose_answer = False
                handler.close_connection = True
                return  # handled, but no answer: the caller sees the connection drop
        self._answer(handler, answer)

    def _answer(self, handler: BaseHTTPRequestHandler, answer: dict, *, status: int = 200) -> None:
        payload = json.dumps(answer, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _route(self, method: str, path: str, query: dict, body) -> dict:
        if path == "/gettoken" and method == "GET":
            return self._gettoken(query)
        routes = {
            "/topapi/message/corpconversation/asyncsend_v2": self._asyncsend,
            "/topapi/message/corpconversation/getsendresult": self._getsendresult,
            "/topapi/v2/user/getuserinfo": self._getuserinfo,
        }
        if path not in routes or method != "POST":
            return {"errcode": 404, "errmsg": "请求的URI地址不存在"}
        refusal = self._token_refusal(query.get("access_token", ""))
        if refusal:
            return refusal
        if not isinstance(body, dict):
            return {"errcode": 40035, "errmsg": "缺少参数 json"}
        return routes[path](body)

    def _gettoken(self, query: dict) -> dict:
        self.token_requests += 1
        if query.get("appkey") != self.app_key or query.get("appsecret") != self.app_secret:
            return {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}
        now = time.time()
        token = next((t for t, until in self.tokens.items() if until > now), None) or secrets.token_hex(16)
        self.tokens[token] = now + TOKEN_SECONDS  # the same token while valid, its validity renewed
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_SECONDS}

    def _token_refusal(self, token: str) -> dict | None:
        if not token:
            return {"errcode": 41001, "errmsg": "缺少access_token参数"}
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "不合法的access_token"}
        if self.tokens[token] <= time.time():
            return {"errcode": 42001, "errmsg": "access_token超时"}
        return None

    def _asyncsend(self, body: dict) -> dict:
        try:
            agent_id = int(body.get("agent_id"))
        except (TypeError, ValueError):
            return {"errcode": 40035, "errmsg": "缺少参数 agent_id"}
        if agent_id != self.agent_id:
            return {"errcode": 40056, "errmsg": "不合法的agentid"}
        userids = [u for u in str(body.get("userid_list") or "").split(",") if u]
        if not userids:
            return {"errcode": 1430000, "errmsg": "接受者为空"}
        if len(userids) > 100:
            return {"errcode": 40035, "errmsg": "userid_list 超过100"}
        msg = body.get("msg")
        problem = self._msg_problem(msg)
        if problem:
            return {"errcode": 40035, "errmsg": problem}
        sent = Sent(task_id=next(self._task_ids), agent_id=agent_id, userids=userids, msg=msg)
        content = json.dumps(msg, sort_keys=True, ensure_ascii=False)
        for userid in userids:
            if userid not in self.directory:
                sent.invalid.append(userid)
            elif any(json.dumps(m, sort_keys=True, ensure_ascii=False) == content for m in self.inbox.get(userid, [])):
                sent.forbidden.append(userid)  # the same content to the same member once a day
            else:
                self.inbox.setdefault(userid, []).append(msg)
                sent.delivered.append(userid)
        self.sent.append(sent)
        return {"errcode": 0, "errmsg": "ok", "task_id": sent.task_id, "request_id": secrets.token_hex(6)}

    @staticmethod
    def _msg_problem(msg) -> str:
        if not isinstance(msg, dict) or msg.get("msgtype") not in MSG_TYPES or not isinstance(msg.get(msg["msgtype"]), dict):
            return "缺少参数 msg"
        if len(json.dumps(msg, ensure_ascii=False).encode()) > MSG_MAX_BYTES:
            return "msg 超过2048字节"
        if msg["msgtype"] == "action_card":
            card = msg["action_card"]
            if not card.get("title") or not card.get("markdown"):
                return "action_card 缺少 title 或 markdown"
            if bool(card.get("single_title")) != bool(card.get("single_url")) or len(card.get("single_title", "")) > 20:
                return "action_card 的 single_title 与 single_url 须同时设置"
            if len(card.get("single_url", "")) > 500 or len(card["title"]) > 64:
                return "action_card 字段超长"
        return ""

    def _getsendresult(self, body: dict) -> dict:
        sent = next((s for s in self.sent if s.task_id == body.get("task_id") and s.agent_id == body.get("agent_id")), None)
        if sent is None:
            return {"errcode": 40035, "errmsg": "不合法的task_id"}
        result = {
            "invalid_user_id_list": sent.invalid,
            "forbidden_user_id_list": sent.forbidden,
            "forbidden_list": [{"code": "143106", "count": 1, "userid": u} for u in sent.forbidden],
            "failed_user_id_list": [],
            "read_user_id_list": [],
            "unread_user_id_list": sent.delivered,
            "invalid_dept_id_list": [],
        }
        return {"errcode": 0, "errmsg": "ok", "send_result": result, "request_id": secrets.token_hex(6)}

    def _getuserinfo(self, body: dict) -> dict:
        issued = self.codes.pop(str(body.get("code", "")), None)  # once only
        if issued is None or time.time() - issued[1] > CODE_SECONDS:
            return {"errcode": 40078, "errmsg": "不存在的临时授权码"}
        userid = issued[0]
        result = {
            "userid": userid,
            "name": self.directory.get(userid, ""),
            "device_id": secrets.token_hex(8),
            "sys": False,
            "sys_level": 0,
            "associated_unionid": "",
            "unionid": secrets.token_hex(8),
        }
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": secrets.token_hex(6)}
