"""Where money may go: the payout rails and how a destination on each is checked.

One function, `destination_normalize`, validates a destination for a rail and
returns the form we store (and show the operator who pays it out). Anything it
refuses is a 400 `invalid_destination` naming the field, so `not-an-address !!`
never reaches a beneficiary or a withdrawal.

- `bank_iban`: an IBAN in any spacing and case, stored compact in upper case;
  schwifty checks the country, length, BBAN format and mod-97 check digits.
- `bank_account_in`: an Indian account number (9-18 digits) and its branch's
  IFSC, in either order, stored as `<account> <IFSC>`; checked by the regexes
  below (no well-kept library covers IFSC).
- `upi`: a UPI id (VPA) `name@handle`, stored in lower case; regex below.
- `bitcoin`: mainnet P2PKH (`1...`) or P2SH (`3...`) base58check, segwit v0
  (`bc1q...`, bech32) or taproot v1 (`bc1p...`, bech32m); bip-utils checks the
  checksum, the version byte or witness version, and the program length. Stored
  as given (bech32 in lower case).
- `ethereum`: `0x` and 40 hex digits; bip-utils refuses a mixed-case address
  whose EIP-55 checksum is wrong.

An all-lower (or all-upper) Ethereum address carries no checksum, so EIP-55
accepts it; we store it checksummed, which is what the payout wallet shows.
"""

from __future__ import annotations

import re

from bip_utils import (
    Bech32ChecksumError,
    CoinsConf,
    EthAddrDecoder,
    Kekkak256,
    P2PKHAddrDecoder,
    P2SHAddrDecoder,
    SegwitBech32Decoder,
)
from django.core.exceptions import ValidationError
from django.db import models
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from config.domain_errors import ApplicationError
from wallet.errors import WalletErrorCode as Code


class PayoutRail(models.TextChoices):
    BANK_IBAN = "bank_iban", "Bank account (IBAN)"
    BANK_ACCOUNT_IN = "bank_account_in", "Indian bank account (number + IFSC)"
    UPI = "upi", "UPI id"
    BITCOIN = "bitcoin", "Bitcoin address"
    ETHEREUM = "ethereum", "Ethereum address"


# IFSC (RBI): 4 letters (the bank), a literal 0 (reserved), 6 letters or digits (the
# branch). Indian account numbers are 9 to 18 digits, bank-specific.
IFSC_RE = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
IN_ACCOUNT_RE = re.compile(r"^[0-9]{9,18}$")
# UPI id (VPA): a user part of letters, digits, dot, hyphen or underscore (starting
# with a letter or digit), "@", the PSP's handle (letters, then letters or digits).
UPI_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}@[a-z][a-z0-9]{1,31}$")
_ETH_HEX_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_IN_SEPARATORS = re.compile(r"[\s/,:;|]+")

_BTC = CoinsConf.BitcoinMainNet
_BTC_HRP = _BTC.ParamByKey("p2wpkh_hrp")  # "bc"


def _refuse(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        Code.INVALID_DESTINATION,
        f"{field}: {message}",
        details={field: [message]},
    )


def _iban(value: str, field: str) -> str:
    try:
        iban = IBAN(value)
    except (SchwiftyException, ValueError) as exc:
        raise _refuse(field, f"not a valid IBAN ({exc}).") from None
    return iban.compact


def _bank_account_in(value: str, field: str) -> str:
    parts = [p for p in _IN_SEPARATORS.split(value.upper()) if p]
    ifsc = [p for p in parts if IFSC_RE.match(p)]
    accounts = [p for p in parts if IN_ACCOUNT_RE.match(p)]
    if len(parts) != 2 or len(ifsc) != 1 or len(accounts) != 1:
        raise _refuse(
            field,
            "give the account number (9-18 digits) and the branch's IFSC "
            "(e.g. HDFC0001234), separated by a space.",
        )
    return f"{accounts[0]} {ifsc[0]}"


def _upi(value: str, field: str) -> str:
    vpa = value.strip().lower()
    if not UPI_RE.match(vpa):
        raise _refuse(field, "not a valid UPI id (name@handle, e.g. alice@okhdfc).")
    return vpa


def _bitcoin(value: str, field: str) -> str:
    address = value.strip()
    if address.lower().startswith(f"{_BTC_HRP}1"):
        if address != address.lower() and address != address.upper():
            raise _refuse(field, "a bech32 address must not mix upper and lower case.")
        address = address.lower()
        try:
            version, program = SegwitBech32Decoder.Decode(_BTC_HRP, address)
        except (Bech32ChecksumError, ValueError) as exc:
            raise _refuse(field, f"not a valid Bitcoin address ({exc}).") from None
        if (version, len(program)) not in ((0, 20), (0, 32), (1, 32)):
            raise _refuse(
                field, f"segwit version {version} addresses are not supported."
            )
        return address
    for decoder, key in (
        (P2PKHAddrDecoder, "p2pkh_net_ver"),
        (P2SHAddrDecoder, "p2sh_net_ver"),
    ):
        try:
            decoder().DecodeAddr(address, net_ver=_BTC.ParamByKey(key))
        except ValueError:
            continue
        return address
    raise _refuse(
        field,
        "not a valid Bitcoin mainnet address (checksum, network or format is wrong).",
    )


def _eip55(hex40: str) -> str:
    digest = Kekkak256.QuickDigest(hex40.lower().encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c.lower()
        for c, d in zip(hex40.lower(), digest[:40], strict=True)
    )


def _ethereum(value: str, field: str) -> str:
    address = value.strip()
    if not _ETH_HEX_RE.match(address):
        raise _refuse(field, "not an Ethereum address (0x and 40 hex digits).")
    body = address[2:]
    one_case = body == body.lower() or body == body.upper()
    try:
        EthAddrDecoder().DecodeAddr(address, skip_chksum_enc=one_case)
    except ValueError:
        raise _refuse(
            field, "the address's EIP-55 checksum (its mixed case) is wrong."
        ) from None
    return _eip55(body)


_VALIDATORS = {
    PayoutRail.BANK_IBAN: _iban,
    PayoutRail.BANK_ACCOUNT_IN: _bank_account_in,
    PayoutRail.UPI: _upi,
    PayoutRail.BITCOIN: _bitcoin,
    PayoutRail.ETHEREUM: _ethereum,
}


def destination_normalize(
    *, rail: str, destination: str, field: str = "destination"
) -> str:
    """The stored form of `destination` on `rail`, or a 400 `invalid_destination`
    naming `field`. An unknown rail is a 400 `unknown_rail` naming `rail`."""
    if rail not in _VALIDATORS:
        choices = ", ".join(PayoutRail.values)
        raise ApplicationError(
            Code.UNKNOWN_RAIL,
            f"rail: unknown payout rail {rail!r} (one of {choices}).",
            details={"rail": [f"One of {choices}."]},
        )
    value = (destination or "").strip()
    if not value:
        raise _refuse(field, "required.")
    if len(value) > 200:
        raise _refuse(field, "at most 200 characters.")
    return _VALIDATORS[PayoutRail(rail)](value, field)


def destination_display(*, rail: str, destination: str) -> str:
    """How a stored destination reads best (an IBAN in groups of four)."""
    if rail == PayoutRail.BANK_IBAN:
        return IBAN(destination).formatted
    return destination


def validate_payout_rails(value) -> None:
    """Field validator of `Asset.payout_rails`: a list of distinct known rails."""
    choices = ", ".join(PayoutRail.values)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            f'A list of rails, e.g. ["bank_iban"]; rails are {choices}.'
        )
    unknown = [v for v in value if v not in PayoutRail.values]
    if unknown:
        raise ValidationError(f"Unknown rail(s) {unknown}; rails are {choices}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each rail once.")


def asset_payout_rails(asset) -> list[str]:
    """The known rails an asset pays out on (`Asset.payout_rails`), in order."""
    return [rail for rail in (asset.payout_rails or []) if rail in PayoutRail.values]
