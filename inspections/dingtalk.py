"""DingTalk's open platform, as an enterprise internal app (企业内部应用) uses it: the app's access token, work
notifications (工作通知) to officers, their delivery result, and the 免登 exchange of a JSAPI auth code for a userid.

The requests and answers follow DingTalk's published server API (base URL ``settings.DINGTALK_API_URL``,
https://oapi.dingtalk.com unless set; tests point it at tests/dingtalk_server.py):

- access token: ``GET /gettoken?appkey=…&appsecret=…`` → ``{"errcode": 0, "access_token": …, "expires_in": 7200}``.
  Valid 7200 s; asked again while valid DingTalk returns the same token and extends it; callers must cache it per
  app and not call gettoken often. https://open.dingtalk.com/document/orgapp/obtain-orgapp-token
- work notification: ``POST /topapi/message/corpconversation/asyncsend_v2?access_token=…`` with
  ``{"agent_id", "userid_list", "msg"}`` (msg at most 2048 bytes) → ``{"errcode": 0, "task_id": …, "request_id"}``.
  The send is asynchronous: success means accepted, and whether the user got it is read from
  ``/topapi/message/corpconversation/getsendresult`` (``{"agent_id", "task_id"}`` → ``send_result`` with
  ``invalid_user_id_list``, ``forbidden_user_id_list``, ``failed_user_id_list``, ``read_user_id_list``,
  ``unread_user_id_list``). One app delivers the same content to the same user once a day.
  https://open.dingtalk.com/document/orgapp/asynchronous-sending-of-enterprise-session-messages and
  https://open.dingtalk.com/document/orgapp/gets-the-result-of-sending-messages-asynchronously-to-the-enterprise
- the message's link: ``dingtalk://dingtalkclient/page/link?url=<urlencoded>&pc_slide=true`` opens the page inside
  the DingTalk client (the PC client's sidebar; the in-app browser on a phone), where the JSAPI works.
  https://open.dingtalk.com/document/orgapp/message-link-description
- 免登: the page asks the JSAPI ``dd.runtime.permission.requestAuthCode({corpId})`` for a code (valid 5 minutes,
  single use) and the server exchanges it: ``POST /topapi/v2/user/getuserinfo?access_token=…`` with ``{"code"}`` →
  ``{"errcode": 0, "result": {"userid", "name", …}}``; an unknown or used code is errcode 40078.
  https://open.dingtalk.com/document/orgapp/obtain-the-userid-of-a-user-by-using-the-log-free
- errors: every answer carries errcode/errmsg, 0 is success; 40014 (不合法的access_token) and 42001
  (access_token超时) mean the token must be fetched again; 88 carries the real code in sub_code; -1 is "busy,
  retry" (DingTalk's global server API error codes).

The pages are at https://open.dingtalk.com/document/orgapp/<page>; DingTalk's English mirror has the same pages
at https://help.dingtalk.io/open/development/<page>.
"""

import datetime as dt
import http.client
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import DingTalkAccessToken, NotificationSetting

TOKEN_ERRCODES = {40014, 42001}  # the token is unknown or has expired: fetch a new one and try once more
UNKNOWN_AUTH_CODE = 40078
# Refresh this long before the token's end, so a request never leaves with a token that expires on the way.
TOKEN_MARGIN = dt.timedelta(minutes=5)
MSG_MAX_BYTES = 2048


class DingTalkError(Exception):
    """DingTalk could not be reached or refused the request (``errcode`` is DingTalk's, None when unreachable)."""

    def __init__(self, message: str, *, errcode: int | None = None):
        super().__init__(message)
        self.errcode = errcode


@dataclass(frozen=True)
class DingTalkApp:
    """An internal app's credentials, from a bureau's notification setting."""

    corp_id: str
    agent_id: int
    app_key: str
    app_secret: str

    @classmethod
    def of(cls, setting: NotificationSetting | None) -> "DingTalkApp | None":
        if setting is None or not setting.has_dingtalk_app:
            return None
        return cls(corp_id=setting.corp_id, agent_id=setting.agent_id, app_key=setting.app_key, app_secret=setting.app_secret)


def _errcode(answer: dict) -> int:
    """DingTalk's error code; for errcode 88 the one in sub_code, where it is a number."""
    code = answer.get("errcode", 0)
    if code == 88 and str(answer.get("sub_code", "")).lstrip("-").isdigit():
        return int(answer["sub_code"])
    return code


def _request(method: str, path: str, *, query: dict, body: dict | None = None) -> dict:
    """One call to DingTalk's server API; raises DingTalkError when unreachable, on an HTTP error or a non-JSON answer."""
    url = f"{settings.DINGTALK_API_URL.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=settings.DINGTALK_TIMEOUT) as response:
            answer = json.loads(response.read() or b"{}")
    # HTTPError (an answer like 500) and URLError are OSErrors, as are timeouts and a connection dropped before the
    # answer; HTTPException is a truncated answer. The token never appears in the message: it carries no URL.
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise DingTalkError(f"DingTalk unreachable ({path}): {error}") from error
    if not isinstance(answer, dict):
        raise DingTalkError(f"DingTalk answered {path} with something other than a JSON object")
    return answer


def _refused(path: str, answer: dict) -> DingTalkError:
    code = _errcode(answer)
    message = answer.get("sub_msg") or answer.get("errmsg", "")
    return DingTalkError(f"DingTalk refused {path}: {code} {message}".strip(), errcode=code)


def access_token(app: DingTalkApp, *, refresh: bool = False) -> str:
    """The app's access token: the stored one while it has more than TOKEN_MARGIN left, else a new one from gettoken.

    Two workers refreshing at once both get a valid token (DingTalk returns the same one while it is valid), so no
    lock is taken; the last write wins.
    """
    now = timezone.now()
    stored = DingTalkAccessToken.objects.filter(app_key=app.app_key).first()
    if stored and not refresh and stored.expires_at - TOKEN_MARGIN > now:
        return stored.access_token
    answer = _request("GET", "/gettoken", query={"appkey": app.app_key, "appsecret": app.app_secret})
    if _errcode(answer) != 0 or not answer.get("access_token"):
        raise _refused("/gettoken", answer)
    expires_at = now + dt.timedelta(seconds=int(answer.get("expires_in", 7200)))
    DingTalkAccessToken.objects.update_or_create(
        app_key=app.app_key, defaults={"access_token": answer["access_token"], "expires_at": expires_at}
    )
    return answer["access_token"]


def call(app: DingTalkApp, path: str, body: dict) -> dict:
    """POST ``body`` to a server API with the app's token; a token DingTalk calls expired or invalid is fetched
    anew and the call made once more. Returns the answer of a success (errcode 0), else raises DingTalkError."""
    answer = _request("POST", path, query={"access_token": access_token(app)}, body=body)
    if _errcode(answer) in TOKEN_ERRCODES:
        answer = _request("POST", path, query={"access_token": access_token(app, refresh=True)}, body=body)
    if _errcode(answer) != 0:
        raise _refused(path, answer)
    return answer


def in_client_link(url: str) -> str:
    """A link DingTalk opens inside its client (so the page can use the JSAPI for 免登), on the PC and phones."""
    return "dingtalk://dingtalkclient/page/link?" + urllib.parse.urlencode({"url": url, "pc_slide": "true"})


def action_card(*, title: str, text: str, button: str, url: str) -> dict:
    """A work notification as an action card (卡片消息) whose single button opens ``url`` inside DingTalk.

    DingTalk's limits: title up to 64 characters, single_title up to 20, single_url up to 500.
    """
    return {
        "msgtype": "action_card",
        "action_card": {"title": title[:64], "markdown": f"### {title}\n\n{text}", "single_title": button[:20], "single_url": url},
    }


def work_notice_send(app: DingTalkApp, *, userid: str, msg: dict) -> str:
    """Send a work notification to one member; returns DingTalk's task_id (the send is asynchronous)."""
    if len(json.dumps(msg, ensure_ascii=False).encode()) > MSG_MAX_BYTES:
        raise DingTalkError(f"the message is longer than DingTalk's {MSG_MAX_BYTES} bytes")
    answer = call(app, "/topapi/message/corpconversation/asyncsend_v2", {"agent_id": app.agent_id, "userid_list": userid, "msg": msg})
    if answer.get("task_id") is None:
        raise DingTalkError("DingTalk accepted the work notification without a task_id")
    return str(answer["task_id"])


# What getsendresult's lists mean for one recipient, in the order they are looked at.
UNDELIVERED = (
    ("invalid_user_id_list", "DingTalk does not know the userid"),
    ("forbidden_user_id_list", "DingTalk held the message back (the same content was sent today, or the daily limit was reached)"),
    ("failed_user_id_list", "DingTalk failed to deliver it"),
)


def work_notice_problem(app: DingTalkApp, *, task_id: str, userid: str, accepted: tuple[str, ...] = ()) -> str:
    """Why DingTalk did not deliver a sent work notification to ``userid`` ("" when it did or is still delivering).

    A message held back with one of the ``accepted`` forbidden_list codes counts as delivered.
    """
    answer = call(app, "/topapi/message/corpconversation/getsendresult", {"agent_id": app.agent_id, "task_id": int(task_id)})
    result = answer.get("send_result") or {}
    codes = {str(entry.get("code", "")) for entry in result.get("forbidden_list") or [] if entry.get("userid") == userid}
    for key, problem in UNDELIVERED:
        if userid in (result.get(key) or []):
            if key == "forbidden_user_id_list" and codes and codes <= set(accepted):
                return ""
            detail = f" ({', '.join(sorted(codes))})" if key == "forbidden_user_id_list" and codes else ""
            return f"{problem}{detail}: {userid}"
    return ""


def userid_for_auth_code(app: DingTalkApp, code: str) -> str:
    """The userid of the member a 免登 auth code was issued to; DingTalkError (errcode 40078) for an unknown code."""
    answer = call(app, "/topapi/v2/user/getuserinfo", {"code": code})
    userid = (answer.get("result") or {}).get("userid")
    if not userid:
        raise DingTalkError("DingTalk answered the 免登 exchange without a userid")
    return userid
