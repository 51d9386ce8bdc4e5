"""The WeChat envelope: proves a request comes from WeChat (signature, replay window), reads its
XML safely, decrypts safe-mode messages and encrypts the replies.

Every wechatpy, defusedxml and XML error is translated here into `WeChatRequestError`, which
carries the HTTP status and the stable error code the router answers with. Bodies are checked with
defusedxml (no DTD, no entities) before wechatpy or xmltodict see them.

Server verification (GET) of an official account is the same in every mode: `signature` over
token, timestamp and nonce, and `echostr` echoed as sent. In safe mode a GET that carries
`msg_signature` is verified the WeCom way instead (signature over the encrypted `echostr`,
which is decrypted and echoed).
"""

from __future__ import annotations

import binascii
import hmac
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeXML
from defusedxml import DefusedXmlException
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import WeChatSigner

from assistant.errors import ConfigError, ZhengwuError

MAX_ECHOSTR_CHARS = 512


class WeChatRequestError(ZhengwuError):
    """A request to /wechat was refused: `status_code` and `code` are what the client gets."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


@dataclass(frozen=True)
class Inbound:
    """One message from a user, checked and parsed."""

    message: BaseMessage  # wechatpy's message, kept to address the reply
    openid: str
    key: str  # MsgId; events have none: openid and CreateTime, as WeChat documents for dedupe
    kind: str  # text, image, voice, video, shortvideo, location, link, event, unknown
    content: str  # the text (or the speech recognition of a voice message)
    event: str = ""


class Envelope:
    def __init__(self, token: str, appid: str | None = None, aes_key: str | None = None,
                 max_skew_seconds: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        if not token:
            raise ConfigError("ZHENGWU_WECHAT_TOKEN must not be empty")
        if max_skew_seconds <= 0:
            raise ConfigError(f"max_skew_seconds must be greater than 0, got {max_skew_seconds}")
        self.token, self.appid, self.max_skew_seconds, self.clock = token, appid, max_skew_seconds, clock
        self.crypto: WeChatCrypto | None = None
        if aes_key:
            if not appid:
                raise ConfigError("ZHENGWU_WECHAT_APPID is required when ZHENGWU_WECHAT_AES_KEY is set (safe mode)")
            try:
                self.crypto = WeChatCrypto(token, aes_key, appid)
            except (AssertionError, binascii.Error, ValueError) as exc:
                raise ConfigError("ZHENGWU_WECHAT_AES_KEY must be the 43-character EncodingAESKey "
                                  "of the official account") from exc

    @property
    def safe_mode(self) -> bool:
        return self.crypto is not None

    def verify_server(self, params: Mapping[str, str]) -> str:
        """The text to echo for a server verification (GET) request."""
        echostr = params.get("echostr", "")
        if not echostr or len(echostr) > MAX_ECHOSTR_CHARS:
            raise WeChatRequestError(400, "invalid_echostr", "echostr is missing or too long")
        if self.crypto is not None and params.get("msg_signature"):
            self._check(params["msg_signature"], params.get("timestamp", ""), params.get("nonce", ""), echostr)
            return self._decrypt(echostr)
        self._check(params.get("signature", ""), params.get("timestamp", ""), params.get("nonce", ""))
        return echostr

    def verify_request(self, params: Mapping[str, str]) -> None:
        """Check the `signature` of a pushed message (POST) before its body is read."""
        self._check(params.get("signature", ""), params.get("timestamp", ""), params.get("nonce", ""))

    def open(self, body: bytes, params: Mapping[str, str]) -> Inbound:
        """Parse a pushed message whose request passed `verify_request`; in safe mode, check
        `msg_signature` over the ciphertext and decrypt it."""
        timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
        root, text = _read_xml(body)
        if self.crypto is not None:
            if params.get("encrypt_type", "").lower() != "aes":
                raise WeChatRequestError(400, "encryption_required", "safe mode: messages must be encrypted (encrypt_type=aes)")
            encrypted = (root.findtext("Encrypt") or "").strip()
            if not encrypted:
                raise WeChatRequestError(400, "invalid_message", "encrypted message without <Encrypt>")
            self._check(params.get("msg_signature", ""), timestamp, nonce, encrypted)
            _, text = _read_xml(self._decrypt(encrypted).encode("utf-8"))
        return _to_inbound(text)

    def seal(self, reply_xml: str, nonce: str) -> str:
        """The reply as sent: encrypted and signed in safe mode, as is otherwise."""
        if self.crypto is None:
            return reply_xml
        return str(self.crypto.encrypt_message(reply_xml, nonce, str(int(self.clock()))))

    def _check(self, signature: str, timestamp: str, nonce: str, *extra: str) -> None:
        """Constant-time check of WeChat's sha1 signature (wechatpy's `WeChatSigner` computes it;
        `check_signature` is not used because it compares with `!=`), then the replay window."""
        if not (signature and timestamp and nonce):
            raise WeChatRequestError(403, "invalid_signature", "signature, timestamp and nonce are required")
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, *extra)
        if not hmac.compare_digest(signer.signature.encode(), signature.encode("utf-8", "replace")):
            raise WeChatRequestError(403, "invalid_signature", "the signature does not match")
        try:
            sent = int(timestamp)
        except ValueError:
            raise WeChatRequestError(403, "invalid_signature", "timestamp must be an integer") from None
        if abs(self.clock() - sent) > self.max_skew_seconds:
            raise WeChatRequestError(403, "stale_timestamp",
                                     f"timestamp is more than {self.max_skew_seconds:g} seconds from now")

    def _decrypt(self, encrypted: str) -> str:
        assert self.crypto is not None
        try:
            return str(PrpCrypto(self.crypto.key).decrypt(encrypted, self.appid))
        except InvalidAppIdException:
            raise WeChatRequestError(403, "invalid_appid", "the message is for another AppID") from None
        except (InvalidSignatureException, ValueError, TypeError, IndexError, struct.error,
                binascii.Error) as exc:
            raise WeChatRequestError(400, "invalid_ciphertext", "the encrypted message cannot be decrypted") from exc


def _read_xml(body: bytes) -> tuple[Element, str]:
    """Parse with DTDs, entities and external references forbidden; the root must be <xml>."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WeChatRequestError(400, "invalid_xml", "the body is not UTF-8") from None
    try:
        root = SafeXML.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise WeChatRequestError(400, "forbidden_xml", "DTDs and entities are not accepted") from None
    except ParseError:
        raise WeChatRequestError(400, "invalid_xml", "the body is not well-formed XML") from None
    if root.tag != "xml":
        raise WeChatRequestError(400, "invalid_xml", "the root element must be <xml>")
    return root, text


def _to_inbound(text: str) -> Inbound:
    try:
        message = parse_message(text)
        kind = str(message.type).lower()
        openid, account = message.source, message.target
        event = str(getattr(message, "event", "") or "").lower() if kind == "event" else ""
        key = f"msg:{message.id}" if kind != "event" and message.id else f"at:{openid}:{message.time}"
        if kind == "text":
            content = str(message.content or "")
        elif kind == "voice":
            content = str(getattr(message, "recognition", "") or "")
        else:
            content = ""
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise WeChatRequestError(400, "invalid_message", "not a WeChat message (MsgType, FromUserName, "
                                 "ToUserName, CreateTime)") from exc
    if not (isinstance(openid, str) and openid and isinstance(account, str) and account):
        raise WeChatRequestError(400, "invalid_message", "FromUserName and ToUserName are required")
    return Inbound(message=message, openid=openid, key=key, kind=kind, content=content, event=event)
