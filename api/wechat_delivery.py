"""Late answers pushed through WeChat's customer-service message API, when `wechat_secret` is set.

`CustomerServiceSender` wraps `wechatpy.WeChatClient(appid, secret).message.send_text`; wechatpy's
and requests' errors become `WeChatDeliveryError`, and the answer then waits for the user's next
message instead.
"""

from __future__ import annotations

from typing import Protocol

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatException

from assistant.errors import ConfigError, ZhengwuError
from assistant.settings import Settings


class WeChatDeliveryError(ZhengwuError):
    """A message could not be pushed through the customer-service API."""


class LateSender(Protocol):
    def send_text(self, openid: str, text: str) -> None: ...


class CustomerServiceSender:
    def __init__(self, client: WeChatClient) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings, timeout: float = 5.0) -> CustomerServiceSender | None:
        """A sender when `wechat_secret` is set (it needs `wechat_appid` too), else None."""
        if settings.wechat_secret is None or not settings.wechat_secret.get_secret_value():
            return None
        if not settings.wechat_appid:
            raise ConfigError("ZHENGWU_WECHAT_APPID is required when ZHENGWU_WECHAT_SECRET is set")
        return cls(WeChatClient(settings.wechat_appid, settings.wechat_secret.get_secret_value(), timeout=timeout))

    def send_text(self, openid: str, text: str) -> None:
        try:
            self.client.message.send_text(openid, text)
        except (WeChatException, requests.RequestException) as exc:
            raise WeChatDeliveryError(f"customer-service message not sent: {exc}") from exc
