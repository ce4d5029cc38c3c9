"""What keeps the web part safe: signed values, passwords, rate limits, image checks.

Signing uses itsdangerous with the key the processes share (``app_secret`` in the
database, or ``WEB_SECRET``); passwords are hashed with argon2 (argon2-cffi);
uploads are opened with Pillow before anything keeps them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import secrets
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from PIL import Image, UnidentifiedImageError

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps an unknown user name as slow as a wrong password.
    Made on first use: argon2 takes most of a second and 64 MiB, not worth every start."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str, stored: str | None) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Signer:
    """Values only this server could have made: the browser's id in its cookie, the
    continue link, the citizen's form token, a flash message."""

    def __init__(self, secret: str):
        self._plain = URLSafeSerializer(secret, salt="kanal-aduan-web")
        self._timed = URLSafeTimedSerializer(secret, salt="kanal-aduan-web-timed")
        self._secret = secret.encode()

    def sign(self, purpose: str, value: str) -> str:
        return str(self._plain.dumps([purpose, value]))

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            found = self._plain.loads(signed)
        except BadSignature:
            return None
        if not isinstance(found, list) or len(found) != 2 or found[0] != purpose:
            return None
        return str(found[1])

    def sign_timed(self, purpose: str, value: str) -> str:
        return str(self._timed.dumps([purpose, value]))

    def unsign_timed(self, purpose: str, signed: str | None, max_age: float) -> str | None:
        if not signed:
            return None
        try:
            found = self._timed.loads(signed, max_age=int(max_age))
        except BadSignature:
            return None
        if not isinstance(found, list) or len(found) != 2 or found[0] != purpose:
            return None
        return str(found[1])

    def mac(self, purpose: str, value: str) -> str:
        """A short keyed digest (the citizen's form token for their browser id)."""
        return hashlib.blake2b(
            f"{purpose}:{value}".encode(), key=self._secret[:64], digest_size=16
        ).hexdigest()


class RateLimit:
    """At most ``limit`` events per key in any ``period`` seconds (a sliding window)."""

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.period:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > 20_000:
            self._forget(now)
        return True

    def _forget(self, now: float) -> None:
        for key, times in list(self._seen.items()):
            if not times or times[-1] <= now - self.period:
                del self._seen[key]


class LoginThrottle:
    """Failed sign-ins slow the next ones down, per user name and per address: each
    failure in the last ``window`` seconds doubles the wait, and after ``lock_after``
    failures every attempt is refused until the window has passed."""

    def __init__(
        self,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        lock_after: int = 10,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lock_after = lock_after
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times)

    def failures(self, *keys: str) -> int:
        return max((self._recent(key) for key in keys), default=0)

    def locked(self, *keys: str) -> bool:
        return self.failures(*keys) >= self.lock_after

    def delay(self, *keys: str) -> float:
        count = self.failures(*keys)
        if count == 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** (count - 1)))

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.lock_after * 2)).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    mime_type: str
    width: int
    height: int


class NotAnImage(Exception):
    pass


def check_image(data: bytes, max_pixels: int = 40_000_000) -> CheckedImage:
    """The upload if Pillow reads it as a JPEG, PNG or WebP picture of sane size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or ""
                width, height = image.size
                image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as error:
        raise NotAnImage(type(error).__name__) from None
    except Image.DecompressionBombError as error:
        raise NotAnImage("too many pixels") from error
    if kind not in IMAGE_TYPES or width * height > max_pixels or not width or not height:
        raise NotAnImage(kind or "unknown")
    return CheckedImage(data, IMAGE_TYPES[kind], width, height)
