"""The bodies the admin API takes (/sim): each member checked by pydantic, an unknown one refused (HTTP 400
naming it). ``FaultSpec`` is the fault service's own (pos_sim/backend/services/faults.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pos_sim.backend.services.transit import KEY_LIFETIME
from pos_sim.backend.store.clock import MAX_ADVANCE_S
from pos_sim.domain.codes import ride


class NewWallet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(examples=["SGD"], description="ISO 4217 code of the wallet's money")
    balance: int = Field(ge=0, examples=[10000], description="opening balance in minor units")
    name: str = Field(default="", max_length=64)


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codeValue: str = Field(max_length=512, description="the merchant's order or entry code, as scanned")
    confirmMs: int = Field(default=0, ge=0, le=600_000, description="how long the customer takes to confirm; "
                           "the payment stays PROCESSING meanwhile")


class NewMerchant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clientId: str = Field(examples=["SHOP_TH_01"], description="1 to 64 letters, digits, '_' or '-'")
    name: str = Field(min_length=1, max_length=128)
    settlementCurrency: str = Field(examples=["THB"], description="ISO 4217 code the merchant is settled in")
    publicKey: str | None = Field(default=None, description="RSA public key (PEM or bare base64); "
                                  "omitted: a key pair is made in the data dir, and the private key answered on loopback")


class ClockMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advanceSeconds: int = Field(ge=1, le=MAX_ADVANCE_S, examples=[120],
                                description="how far to move the simulator's clock on; it never goes back")


class RateTableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str = Field(examples=["USD"])
    rates: dict[str, str | int] = Field(examples=[{"USD": "1", "SGD": "1.34", "THB": "35.80"}],
                                        description="major units of each currency one base unit buys, as text")


class RideCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    companions: int = Field(default=0, ge=0, le=ride.MAX_COMPANIONS, description="riders besides the holder")


class RotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlapSeconds: int = Field(default=3600, ge=0, le=int(KEY_LIFETIME.total_seconds()),
                                description="how long the key signing until now stays valid for codes it signs")


class DenyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(max_length=64, description="the account token, hex")


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, lt=10**15, description="minor units to add to the wallet, from the funding account")
