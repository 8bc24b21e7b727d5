#!/usr/bin/env python3
"""The wechatpy recipes of docs/sdks.md, run against a live OpenMidas.

    wechatpy_recipe.py base-url   # recipe A: every wechatpy request goes to OPENMIDAS_URL
    wechatpy_recipe.py tls        # recipe B: wechatpy unchanged, https://api.weixin.qq.com
                                  #   served by `openmidas serve --tls-listen`

Both get an access_token through wechatpy (its own, hard-coded /cgi-bin/token call),
exchange a login code with client.wxa.code_to_session, and read a Midas v1 getbalance
through wechatpy's own HTTP machinery (client.post). wechatpy has no Midas call, so the
body is signed here with hashlib/hmac as docs/behaviour.md section 3.3 says. The last
line printed is `RESULT <json>` with what the test asserts.

Input (environment): OPENMIDAS_APPID, OPENMIDAS_SECRET, OPENMIDAS_OFFER_ID,
OPENMIDAS_APP_KEY, OPENMIDAS_OPENID, OPENMIDAS_JS_CODE; base-url: OPENMIDAS_URL; tls:
OPENMIDAS_TLS_PORT and REQUESTS_CA_BUNDLE (the CA of `openmidas ca`).
"""

import hashlib
import hmac
import json
import os
import socket
import sys
import time

import wechatpy
from wechatpy import WeChatClient

WECHAT = "https://api.weixin.qq.com"


# ---- recipe A (docs/sdks.md, wechatpy): the base-URL switch ---------------------------
def point_at_openmidas(client, base_url):
    """Sends every request of this wechatpy client to base_url instead of
    https://api.weixin.qq.com: the token call (hard-coded in wechatpy), the
    API_BASE_URL of the client and of its sub-APIs (client.wxa, ...) and absolute URLs
    given to client.get/client.post."""
    base_url = base_url.rstrip("/")
    send = client._http.request

    def request(method, url, *args, **kwargs):
        if url.startswith(WECHAT + "/"):
            url = base_url + url[len(WECHAT):]
        return send(method, url, *args, **kwargs)

    client._http.request = request
    return client
# ---- end of recipe A ------------------------------------------------------------------


def hosts_entry_stand_in(tls_port):
    """Stands in for the hosts entry `127.0.0.1 api.weixin.qq.com` and for port 443: a test
    may neither edit /etc/hosts nor listen on 443, so api.weixin.qq.com:443 resolves to
    127.0.0.1:<tls_port> inside this process only. TLS still verifies the certificate
    for api.weixin.qq.com (SNI and host name check are unchanged) against
    REQUESTS_CA_BUNDLE."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "api.weixin.qq.com" and str(port) in ("443", "https"):
            return real("127.0.0.1", tls_port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def hmac_sha256(key, message):
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def sorted_string(fields):
    """key=value of every field, sorted by key; values as their JSON text (strings bare)."""
    def text(v):
        return v if isinstance(v, str) else json.dumps(v)
    return "&".join(f"{k}={text(fields[k])}" for k in sorted(fields))


def midas_v1_signed(fields, app_key, path, access_token=None, session_key=None):
    """docs/behaviour.md 3.3: sig over exactly the keys sent; mp_sig when a session_key is
    given (then access_token, the query value, and sig are signed too)."""
    body = dict(fields)
    body["sig"] = hmac_sha256(
        app_key, f"{sorted_string(fields)}&org_loc={path}&method=POST&secret={app_key}"
    )
    if session_key is not None:
        signed = dict(body, access_token=access_token)
        body["mp_sig"] = hmac_sha256(
            session_key,
            f"{sorted_string(signed)}&org_loc={path}&method=POST&session_key={session_key}",
        )
    return body


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "base-url"
    env = os.environ
    appid, secret = env["OPENMIDAS_APPID"], env["OPENMIDAS_SECRET"]

    # The SDK's client, exactly as an application makes it.
    client = WeChatClient(appid, secret)
    if mode == "base-url":
        point_at_openmidas(client, env["OPENMIDAS_URL"])
    elif mode == "tls":
        # Recipe B changes nothing in the code: the trust step is REQUESTS_CA_BUNDLE (set
        # by the caller) and the hosts entry is simulated here.
        assert env.get("REQUESTS_CA_BUNDLE"), "REQUESTS_CA_BUNDLE must name the CA file"
        hosts_entry_stand_in(int(env["OPENMIDAS_TLS_PORT"]))
    else:
        sys.exit(f"unknown mode {mode!r}: base-url or tls")

    # 1. The access token, through wechatpy's own token call.
    access_token = client.access_token
    print(f"access_token: {access_token[:8]}... ({len(access_token)} characters)")

    # 2. The player's login code, through wechatpy's mini-program API.
    session = client.wxa.code_to_session(env["OPENMIDAS_JS_CODE"])
    session_key = session["session_key"]
    print(f"jscode2session: openid={session['openid']}")

    # 3. A signed Midas v1 getbalance, sent by wechatpy (it adds ?access_token=).
    path = "/cgi-bin/midas/getbalance"
    fields = {
        "appid": appid,
        "offer_id": env["OPENMIDAS_OFFER_ID"],
        "openid": session["openid"],
        "pf": "android",
        "ts": int(time.time()),
        "zone_id": "1",
    }
    body = midas_v1_signed(fields, env["OPENMIDAS_APP_KEY"], path, access_token, session_key)
    # client.post joins WeChatClient.API_BASE_URL (https://api.weixin.qq.com/cgi-bin/).
    answer = client.post("midas/getbalance", data=body)
    print(f"getbalance: {json.dumps(answer)}")

    print("RESULT " + json.dumps({
        "mode": mode,
        "wechatpy": wechatpy.__version__,
        "access_token_chars": len(access_token),
        "openid": session["openid"],
        "errcode": answer.get("errcode"),
        "balance": answer.get("balance"),
    }))


if __name__ == "__main__":
    main()
