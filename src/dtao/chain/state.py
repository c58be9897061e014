"""Chain state: structure-of-arrays per subnet, arrays per neuron, hotkey share pools, wallets.

Storage names follow subtensor (in comments).  Every TAO or alpha amount is float64 in TAO units.

Accounts are integers: coldkeys index ``balance``; hotkeys index ``hotkey_owner``.  A stake position
(coldkey, hotkey, netuid) holds *shares* of the hotkey's pool on that subnet (spec 4.5), so
dividends credited to the pool raise every nominator's value pro rata.
"""
from __future__ import annotations

import copy
import operator
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from dtao.chain.errors import (
    HotKeyAccountNotExists,
    InvalidAmount,
    SubnetNotExists,
)
from dtao.chain.params import ChainParams, SubnetHyper
from dtao.chain.positions import PositionMap

ROOT = 0
MECH_STABLE = 0
MECH_DYNAMIC = 1

#: most hotkeys whose last-epoch dividend entries (``AlphaDividendsPerSubnet``/``TaoDividendsPerSubnet``)
#: a subnet tracks; a drain paying more marks the subnet's column as untracked (cleared in full next time)
DIV_ROWS_CAP = 1024
#: an empty mask: every position (``position_values`` without ``where``)
_ALL = np.zeros(0, np.bool_)


@njit(cache=True)
def spot_price_1(tao_reserve: float, alpha_reserve: float, mechanism: int, exists: bool) -> float:
    """Spot price of one pool, TAO per alpha: ``SubnetTAO / SubnetAlphaIn`` (0 if no alpha; 1 for a
    stable subnet; 0 if the subnet does not exist)."""
    if not exists:
        return 0.0
    if mechanism == MECH_STABLE:
        return 1.0
    if alpha_reserve > 0.0:
        return tao_reserve / alpha_reserve
    return 0.0


@njit(cache=True)
def _spot_prices(tao_reserve: np.ndarray, alpha_reserve: np.ndarray, mechanism: np.ndarray,
                 exists: np.ndarray) -> np.ndarray:
    out = np.empty(tao_reserve.size)
    for i in range(tao_reserve.size):
        out[i] = spot_price_1(tao_reserve[i], alpha_reserve[i], mechanism[i], exists[i])
    return out

# Per-subnet float arrays (TAO units unless noted), name -> chain storage item.
SUBNET_FLOAT_FIELDS: dict[str, str] = {
    "tao_reserve": "SubnetTAO",
    "alpha_reserve": "SubnetAlphaIn",
    "alpha_out": "SubnetAlphaOut",
    "moving_price": "SubnetMovingPrice",
    "pending_emission": "PendingEmission",
    "pending_alpha_swapped": "PendingAlphaSwapped",
    "pending_root_divs": "PendingRootDivs",
    "pending_owner_cut": "PendingOwnerCut",
    "tao_in_emission": "SubnetTaoInEmission",
    "alpha_in_emission": "SubnetAlphaInEmission",
    "alpha_out_emission": "SubnetAlphaOutEmission",
    "emission_share": "(share of block TAO emission, last block)",
    "volume": "SubnetVolume",
    "alpha_minted": "(cumulative alpha minted)",
    "alpha_unowned": "(alpha in SubnetAlphaOut held by no stake: burned incentive, undistributed dividends)",
    "flow_ema": "SubnetEmaTaoFlow",
    "flow_block": "SubnetTaoFlow",
    "root_vote_share": "EmissionValues (pre-dTAO root epoch)",
    "burn": "Burn: current neuron registration cost (TAO)",
}
SUBNET_INT_FIELDS: dict[str, str] = {
    "mechanism": "SubnetMechanism",
    "first_emission_block": "FirstEmissionBlockNumber (-1 = not started)",
    "registered_block": "NetworkRegisteredAt",
    "owner_coldkey": "SubnetOwner",
    "owner_hotkey": "SubnetOwnerHotkey",
    "blocks_since_last_step": "BlocksSinceLastStep",
    "last_step_block": "LastMechansimStepBlock",
    "tempo": "Tempo",
    "ema_halving_blocks": "EMAPriceHalvingBlocks",
    "registrations_this_interval": "RegistrationsThisInterval",
    "registrations_this_block": "RegistrationsThisBlock",
    "last_adjustment_block": "LastAdjustmentBlock",
    "adjustment_interval": "AdjustmentInterval",
}
HOTKEY_SUBNET_FIELDS: dict[str, str] = {
    "hotkey_alpha": "TotalHotkeyAlpha[hotkey, netuid]: value of the hotkey's share pool (alpha; TAO on root)",
    "hotkey_shares": "TotalHotkeyShares[hotkey, netuid]: share denominator of the pool",
    "owner_shares": "Alpha[(hotkey, owner coldkey, netuid)]: shares held by the hotkey's own coldkey",
    "alpha_dividends_per_subnet": "AlphaDividendsPerSubnet[netuid, hotkey] at the last epoch (alpha)",
    "tao_dividends_per_subnet": "TaoDividendsPerSubnet[netuid, hotkey] at the last epoch (TAO)",
    "hotkey_alpha_last_epoch": "TotalHotkeyAlphaLastEpoch[hotkey, netuid] (alpha)",
    "childkey_take": "ChildkeyTake[hotkey, netuid] in [0, 1]",
}
SUBNET_BOOL_FIELDS: dict[str, str] = {
    "exists": "NetworksAdded",
    "flow_initialized": "(SubnetEmaTaoFlow has its first value)",
    "registration_allowed": "NetworkRegistrationAllowed",
    "pow_registration_allowed": "NetworkPowRegistrationAllowed",
}


#: the last version given to a ``Neurons`` (any field of any of them assigned a new array); a one-item
#: list so that KernelView.sync_neurons can read it without drawing one
_NEURON_VERSION = [0]
#: words of permit bits in a subnet's bond record (``KernelView.bond_rec``): subnets of up to
#: 64 x BOND_REC_WORDS UIDs are recorded, larger ones scan their bond rows every epoch
BOND_REC_WORDS = 8
#: UIDs (re)registered into any ``Neurons`` so far (the sum of their ``uid_changes`` increments): a reader
#: whose per-subnet records match every subnet's ``uid_changes`` can compare this one number instead
UID_CHANGES = [0]


@dataclass
class Neurons:
    """The UIDs of one subnet (arrays of length n = ``SubnetworkN``)."""

    hotkey: np.ndarray  # int64 hotkey id per uid (``Keys``)
    block_at_registration: np.ndarray  # int64 (``BlockAtRegistration``)
    last_update: np.ndarray  # int64 (``LastUpdate``)
    validator_permit: np.ndarray  # bool (``ValidatorPermit``)
    weights: np.ndarray  # uint16 (n, n) (``Weights``), row = setter uid; may be read-only (protect_weights)
    bonds: np.ndarray  # uint16 (n, n) (``Bonds``); read-only once the chain has taken it (writable_bonds)
    incentive: np.ndarray  # uint16
    dividends: np.ndarray  # uint16
    consensus: np.ndarray  # uint16
    trust: np.ndarray  # uint16
    validator_trust: np.ndarray  # uint16
    rank: np.ndarray  # uint16
    pruning_scores: np.ndarray  # uint16
    emission: np.ndarray  # float64 alpha per uid at the last epoch (``Emission``, TAO units)

    #: UIDs (re)registered into these arrays since they were built (``append``, ``replace``,
    #: genesis registration): a reader compares it to notice changed UIDs without reading the hotkeys.
    #: Not a field (not saved in snapshots); kept by the writers above, so the hotkeys of a UID are
    #: to be changed only through them
    uid_changes = 0  # (no annotation: not a dataclass field)

    def __setattr__(self, name: str, value: object) -> None:
        # every assignment (a field given a new array) gives the neurons a new version, unique across
        # all Neurons, so KernelView.sync_neurons skips unchanged subnets with one comparison; writes
        # into an array in place keep both the array and the version, unless followed by :meth:`touch`
        object.__setattr__(self, name, value)
        self.touch()

    def touch(self) -> None:
        """A new version without assigning a field: an array was written in place in a way the kernel
        view must notice (see :func:`writable_bonds`)."""
        _NEURON_VERSION[0] += 1
        object.__setattr__(self, "_version", _NEURON_VERSION[0])

    def mark_uids_changed(self) -> None:
        """Count a UID (re)registered (:attr:`uid_changes`; not an assignment, so the version stays)."""
        object.__setattr__(self, "uid_changes", self.uid_changes + 1)
        UID_CHANGES[0] += 1

    @classmethod
    def empty(cls) -> "Neurons":
        z16 = np.zeros(0, np.uint16)
        return cls(
            hotkey=np.zeros(0, np.int64), block_at_registration=np.zeros(0, np.int64),
            last_update=np.zeros(0, np.int64), validator_permit=np.zeros(0, bool),
            weights=np.zeros((0, 0), np.uint16), bonds=np.zeros((0, 0), np.uint16),
            incentive=z16.copy(), dividends=z16.copy(), consensus=z16.copy(), trust=z16.copy(),
            validator_trust=z16.copy(), rank=z16.copy(), pruning_scores=z16.copy(),
            emission=np.zeros(0, np.float64),
        )

    @property
    def n(self) -> int:
        return int(self.hotkey.shape[0])

    VECTORS = ("hotkey", "block_at_registration", "last_update", "validator_permit", "incentive", "dividends",
               "consensus", "trust", "validator_trust", "rank", "pruning_scores", "emission")

    def append(self, hotkey: int, block: int) -> int:
        """Add a UID at the end (``append_neuron``); returns the new uid."""
        uid = self.n
        for name in self.VECTORS:
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.zeros(1, arr.dtype)]))
        self.hotkey[uid] = hotkey
        self.block_at_registration[uid] = block
        self.last_update[uid] = block
        self.mark_uids_changed()
        n = uid + 1
        for name in ("weights", "bonds"):
            m = getattr(self, name)
            new = np.zeros((n, n), np.uint16)
            new[: n - 1, : n - 1] = m
            setattr(self, name, new)
        return uid

    def replace(self, uid: int, hotkey: int, block: int) -> None:
        """Replace the neuron at ``uid`` by a new hotkey (``replace_neuron`` + ``clear_neuron``).

        As on chain only emission, trust, consensus, incentive, dividends and the bonds row are
        cleared; the new neuron inherits the UID's last update, permit, rank, validator trust and
        weights row (the epoch drops weights that predate a miner's registration).
        """
        for name in ("emission", "trust", "consensus", "incentive", "dividends"):
            getattr(self, name)[uid] = 0
        self.hotkey[uid] = hotkey
        self.block_at_registration[uid] = block
        with writable_bonds(self) as b:
            b[uid, :] = 0
        self.mark_uids_changed()


def _grow(arr: np.ndarray, size: int, fill: object = 0, order: str = "C") -> np.ndarray:
    """``arr`` with at least ``size`` rows (capacity doubling), in memory ``order``."""
    if arr.shape[0] >= size:
        return arr
    new_shape = (max(size, 2 * arr.shape[0], 8),) + arr.shape[1:]
    out = np.full(new_shape, fill, dtype=arr.dtype, order=order)
    out[: arr.shape[0]] = arr
    return out


@dataclass
class ChainState:
    """The whole chain state.  Mutated only by the rule modules (swap, staking, coinbase, ...)."""

    params: ChainParams = field(default_factory=ChainParams)
    block: int = 0
    total_issuance: float = 0.0  # TotalIssuance (TAO)
    total_stake: float = 0.0  # TotalStake (TAO)
    # accounting for the conservation invariants (not chain storage)
    initial_issuance: float = 0.0
    tao_injected: float = 0.0  # sum of tao_in ever minted
    tao_burned: float = 0.0  # lock excess, registration burns
    root_divs_off_ledger: float = 0.0  # root TAO dividends not added to SubnetTAO[0] (launch quirk)
    tao_unowned: float = 0.0  # TAO taken from pools that no one holds (undistributed PendingRootDivs)
    # network registration
    network_last_lock_cost: float = 0.0  # NetworkLastLockCost
    network_last_lock_block: int = 0  # NetworkLastLockBlock = NetworkLastRegistered (0 = never)
    n_subnets_cap: int = 0

    def __post_init__(self) -> None:
        self.params.validate()
        cap = 8
        for name in SUBNET_FLOAT_FIELDS:
            setattr(self, name, np.zeros(cap, np.float64))
        for name in SUBNET_INT_FIELDS:
            setattr(self, name, np.zeros(cap, np.int64))
        for name in SUBNET_BOOL_FIELDS:
            setattr(self, name, np.zeros(cap, bool))
        self.first_emission_block[:] = -1
        self.owner_coldkey[:] = -1
        self.owner_hotkey[:] = -1
        self.n_subnets_cap = cap
        self.hyper: list[SubnetHyper | None] = [None] * cap
        self.neurons: list[Neurons | None] = [None] * cap
        # hotkeys whose dividend entries of each subnet's column may be non-zero (written by its last
        # drain), so the next drain clears only those; count -1 = not tracked (clear the whole column)
        self._div_rows = np.zeros((cap, DIV_ROWS_CAP), np.int64)
        self._div_rows_n = np.full(cap, -1, np.int64)
        # wallets and hotkeys (capacity-grown arrays; the live counts are n_coldkeys / n_hotkeys)
        self.n_coldkeys = 0
        self.n_hotkeys = 0
        self._balance = np.zeros(0, np.float64)  # free TAO per coldkey (Balances)
        self._hotkey_owner = np.zeros(0, np.int64)  # Owner[hotkey] -> coldkey
        self._hotkey_take = np.zeros(0, np.float64)  # Delegates[hotkey] take in [0, 1]
        # hotkey share pools per (hotkey, netuid): value (TotalHotkeyAlpha) and shares (TotalHotkeyShares);
        # the shares of the hotkey's own coldkey are kept densely in owner_shares, other nominators' in
        # the positions dict (same share-pool rule, so owner incentive can be credited vectorised).
        # stored column-major (Fortran order): a drain reads and writes one subnet's column and root's
        # for that subnet's hotkeys, which are then a few contiguous runs instead of scattered rows
        for name in HOTKEY_SUBNET_FIELDS:
            setattr(self, "_" + name, np.zeros((0, cap), np.float64, order="F"))
        # stake positions: (coldkey, hotkey, netuid) -> shares (Alpha map)
        self.positions = PositionMap()  # only coldkeys that do not own the hotkey
        # childkeys: (hotkey, netuid) -> list of (proportion, other hotkey)
        self.children: dict[tuple[int, int], list[tuple[float, int]]] = {}
        self.parents: dict[tuple[int, int], list[tuple[float, int]]] = {}
        # PendingChildKeys: (parent hotkey, netuid) -> (cooldown block, children); applied at the subnet's epoch
        self.pending_children: dict[tuple[int, int], tuple[int, list[tuple[float, int]]]] = {}
        self.last_children_set: dict[tuple[int, int], int] = {}  # rate limit of set_children
        # root validators' weights over subnets (pre-dTAO root epoch, used by the root_vote rule)
        self.root_weights: dict[int, np.ndarray] = {}  # root validator hotkey -> float weights per netuid

    # ----------------------------------------------------------------------------------- subnets
    def _ensure_subnet_capacity(self, netuid: int) -> None:
        if netuid < self.n_subnets_cap:
            return
        cap = max(netuid + 1, 2 * self.n_subnets_cap)
        for name in SUBNET_FLOAT_FIELDS:
            setattr(self, name, _grow(getattr(self, name), cap, 0.0))
        for name in SUBNET_INT_FIELDS:
            fill = -1 if name in ("first_emission_block", "owner_coldkey", "owner_hotkey") else 0
            setattr(self, name, _grow(getattr(self, name), cap, fill))
        for name in SUBNET_BOOL_FIELDS:
            setattr(self, name, _grow(getattr(self, name), cap, False))
        self.hyper.extend([None] * (cap - len(self.hyper)))
        self.neurons.extend([None] * (cap - len(self.neurons)))
        self._div_rows = _grow(self._div_rows, cap, 0)
        self._div_rows_n = _grow(self._div_rows_n, cap, -1)
        for name in HOTKEY_SUBNET_FIELDS:
            m = getattr(self, "_" + name)
            new = np.zeros((m.shape[0], cap), np.float64, order="F")
            new[:, : m.shape[1]] = m
            setattr(self, "_" + name, new)
        self.n_subnets_cap = cap

    def add_subnet(self, netuid: int, *, mechanism: int = MECH_DYNAMIC, tao_reserve: float = 0.0,
                   alpha_reserve: float = 0.0, alpha_out: float = 0.0, moving_price: float = 0.0,
                   owner_coldkey: int = -1, owner_hotkey: int = -1, hyper: SubnetHyper | None = None,
                   first_emission_block: int = -1) -> None:
        """Create subnet ``netuid`` directly (genesis/migration).  Registration by users goes through
        ``dtao.chain.registration.register_network``, which charges the lock."""
        if netuid < 0:
            raise SubnetNotExists(f"netuid {netuid} is negative")
        self._ensure_subnet_capacity(netuid)
        if self.exists[netuid]:
            raise InvalidAmount(f"subnet {netuid} already exists")
        hyper = hyper or self.params.subnet_hyper
        hyper.validate()
        self.exists[netuid] = True
        self.mechanism[netuid] = mechanism
        self.tao_reserve[netuid] = tao_reserve
        self.alpha_reserve[netuid] = alpha_reserve
        self.alpha_out[netuid] = alpha_out
        self.alpha_minted[netuid] = alpha_reserve + alpha_out
        self.moving_price[netuid] = moving_price
        self.owner_coldkey[netuid] = owner_coldkey
        self.owner_hotkey[netuid] = owner_hotkey
        self.first_emission_block[netuid] = first_emission_block
        self.registered_block[netuid] = self.block
        self.set_hyper(netuid, hyper)
        self.burn[netuid] = hyper.burn
        self.last_adjustment_block[netuid] = self.block
        self.neurons[netuid] = Neurons.empty()

    def set_hyper(self, netuid: int, hyper: SubnetHyper) -> None:
        """Set a subnet's hyperparameters (sudo/owner call) and the arrays the coinbase reads."""
        self.check_subnet(netuid)
        hyper.validate()
        self.hyper[netuid] = hyper
        self.tempo[netuid] = hyper.tempo
        self.ema_halving_blocks[netuid] = hyper.ema_price_halving_blocks
        self.adjustment_interval[netuid] = hyper.adjustment_interval
        self.registration_allowed[netuid] = hyper.registration_allowed
        self.pow_registration_allowed[netuid] = hyper.pow_registration_allowed

    def check_subnet(self, netuid: object) -> int:
        """Return ``netuid`` as int if it names an existing subnet, else raise SubnetNotExists."""
        if type(netuid) is int and 0 <= netuid < self.n_subnets_cap and self.exists.item(netuid):
            return netuid  # the common case, decided at once
        if isinstance(netuid, bool) or not isinstance(netuid, (int, np.integer)):
            raise SubnetNotExists(f"netuid {netuid!r} is not an integer")
        n = int(netuid)
        if n < 0 or n >= self.n_subnets_cap or not self.exists[n]:
            raise SubnetNotExists(f"subnet {n} does not exist")
        return n

    @property
    def netuids(self) -> np.ndarray:
        """All existing netuids (root included), ascending."""
        return np.flatnonzero(self.exists)

    @property
    def subnet_netuids(self) -> np.ndarray:
        """Existing netuids except root."""
        ids = np.flatnonzero(self.exists)
        return ids[ids != ROOT]

    def spot_price(self, netuid: int | None = None) -> np.ndarray | float:
        """Spot price TAO per alpha: ``SubnetTAO / SubnetAlphaIn`` (0 if no alpha; 1 for stable)."""
        if netuid is None:
            return _spot_prices(self.tao_reserve, self.alpha_reserve, self.mechanism, self.exists)
        n = self.check_subnet(netuid)
        # one price from Python: the rule's source uncompiled (a compiled call's dispatch costs more)
        return float(spot_price_1.py_func(self.tao_reserve.item(n), self.alpha_reserve.item(n),
                                          self.mechanism.item(n), self.exists.item(n)))

    def alpha_issuance(self) -> np.ndarray:
        """Per-subnet alpha issuance ``SubnetAlphaIn + SubnetAlphaOut`` (alpha units)."""
        return self.alpha_reserve + self.alpha_out

    # ---------------------------------------------------------------------------------- accounts
    @property
    def balance(self) -> np.ndarray:
        """Free TAO balance per coldkey (view of the live coldkeys)."""
        return self._balance[: self.n_coldkeys]

    @property
    def hotkey_owner(self) -> np.ndarray:
        """Owning coldkey per hotkey (view)."""
        return self._hotkey_owner[: self.n_hotkeys]

    @property
    def hotkey_take(self) -> np.ndarray:
        """Delegate take per hotkey in [0, 1] (view)."""
        return self._hotkey_take[: self.n_hotkeys]

    def new_coldkeys(self, balances: np.ndarray | list[float]) -> np.ndarray:
        """Create coldkeys holding ``balances`` TAO minted at genesis (they count in the initial issuance)."""
        balances = np.atleast_1d(np.asarray(balances, np.float64))
        if balances.ndim != 1 or not np.all(np.isfinite(balances)) or np.any(balances < 0):
            raise InvalidAmount("balances must be finite non-negative TAO amounts")
        start, k = self.n_coldkeys, balances.shape[0]
        self._balance = _grow(self._balance, start + k, 0.0)
        self._balance[start : start + k] = balances
        self.n_coldkeys = start + k
        tot = float(balances.sum())
        self.total_issuance += tot
        self.initial_issuance += tot
        return np.arange(start, start + k, dtype=np.int64)

    def new_coldkey(self, balance: float = 0.0) -> int:
        """Create one coldkey with ``balance`` TAO minted at genesis."""
        _check_amount(balance, "balance")
        return int(self.new_coldkeys([balance])[0])

    def new_hotkeys(self, coldkeys: np.ndarray | list[int], take: float | None = None) -> np.ndarray:
        """Create hotkeys owned by ``coldkeys`` (``create_account_if_non_existent``); returns their ids."""
        cks = np.atleast_1d(np.asarray(coldkeys, np.int64))
        if cks.size and (cks.min() < 0 or cks.max() >= self.n_coldkeys):
            raise InvalidAmount("hotkey owner coldkey does not exist")
        start, k = self.n_hotkeys, cks.shape[0]
        self._hotkey_owner = _grow(self._hotkey_owner, start + k, -1)
        self._hotkey_take = _grow(self._hotkey_take, start + k, 0.0)
        for name in HOTKEY_SUBNET_FIELDS:
            setattr(self, "_" + name, _grow(getattr(self, "_" + name), start + k, 0.0, order="F"))
        self._hotkey_owner[start : start + k] = cks
        self._hotkey_take[start : start + k] = self.params.default_delegate_take if take is None else take
        self.n_hotkeys = start + k
        return np.arange(start, start + k, dtype=np.int64)

    def new_hotkey(self, coldkey: int, take: float | None = None) -> int:
        """Create one hotkey owned by ``coldkey``."""
        self.check_coldkey(coldkey)
        return int(self.new_hotkeys([coldkey], take)[0])

    def check_coldkey(self, ck: object) -> int:
        if type(ck) is int and 0 <= ck < self.n_coldkeys:
            return ck
        if isinstance(ck, bool) or not isinstance(ck, (int, np.integer)) or not (0 <= int(ck) < self.n_coldkeys):
            raise InvalidAmount(f"coldkey {ck!r} does not exist")
        return int(ck)

    def check_hotkey(self, hk: object) -> int:
        if type(hk) is int and 0 <= hk < self.n_hotkeys:
            return hk
        if isinstance(hk, bool) or not isinstance(hk, (int, np.integer)) or not (0 <= int(hk) < self.n_hotkeys):
            raise HotKeyAccountNotExists(f"hotkey {hk!r} does not exist")
        return int(hk)

    def uid_of(self, netuid: int, hotkey: int) -> int | None:
        """The hotkey's UID on ``netuid`` (``Uids``), or None."""
        nr = self.neurons[netuid]
        if nr is None:
            return None
        hit = np.flatnonzero(nr.hotkey == hotkey)
        return int(hit[0]) if hit.size else None

    # ------------------------------------------------------------------------- stake positions
    def position_shares(self, coldkey: int, hotkey: int, netuid: int) -> float:
        """Shares of (coldkey, hotkey, netuid) in the hotkey's pool (``Alpha`` map)."""
        if coldkey == self._hotkey_owner.item(hotkey):
            return self._owner_shares.item(hotkey, netuid)
        return self.positions.get((coldkey, hotkey, netuid), 0.0)

    def position_value(self, coldkey: int, hotkey: int, netuid: int) -> float:
        """Alpha owned by (coldkey, hotkey, netuid): ``V / D * s`` of the hotkey's share pool."""
        s = self.position_shares(coldkey, hotkey, netuid)
        if s <= 0.0:
            return 0.0
        d = self._hotkey_shares.item(hotkey, netuid)
        return self._hotkey_alpha.item(hotkey, netuid) * s / d if d > 0 else 0.0

    def position_values(self, coldkeys: np.ndarray, hotkeys: np.ndarray, netuids: np.ndarray,
                        slots: np.ndarray | None = None, where: np.ndarray | None = None) -> np.ndarray:
        """:meth:`position_value` of many positions at once: alpha (TAO on root) owned by each
        ``(coldkeys[i], hotkeys[i], netuids[i])``, one compiled pass over the positions.

        ``slots`` (int64, one per position, -1 where not known): each position's slot in the
        nominator map (:class:`~dtao.chain.positions.PositionMap`) as the caller last read it; a slot
        that still holds the position's key is read directly, any other is looked up once and the
        slot written back in place, so the next read of the same positions is one pass.  Ids must be
        existing coldkeys, hotkeys and netuid slots: an id outside them raises InvalidAmount (coldkey),
        HotKeyAccountNotExists or SubnetNotExists, and nothing is changed.

        ``where`` (bool, one per position): only those positions are read (and their ids checked); the
        others read 0 and keep their slots.  A population whose agents hold at most one position each
        passes its full agent arrays with ``where`` = the agents holding one, instead of gathering
        them into new arrays and scattering the values back."""
        from dtao.chain.positions import _values_core

        cks = np.ascontiguousarray(coldkeys, np.int64).reshape(-1)
        hks = np.ascontiguousarray(hotkeys, np.int64).reshape(-1)
        nus = np.ascontiguousarray(netuids, np.int64).reshape(-1)
        n = cks.size
        if not (hks.size == n and nus.size == n):
            raise ValueError(f"{n} coldkeys, {hks.size} hotkeys and {nus.size} netuids: one of each per position")
        if where is None:
            mask = _ALL
        else:
            mask = np.ascontiguousarray(where, np.bool_).reshape(-1)
            if mask.size != n:
                raise ValueError(f"where has {mask.size} entries for {n} positions")
        out = np.zeros(n)
        if n == 0:
            return out
        own = slots is not None and slots.dtype == np.int64 and slots.flags.c_contiguous and slots.size == n
        hint = slots if own else np.full(n, -1, np.int64)
        pm = self.positions
        miss = np.empty(n, np.int64)
        pools = (self._hotkey_owner, self._owner_shares, self._hotkey_alpha, self._hotkey_shares, pm._key,
                 pm._shares, pm._top)
        limits = np.array([self.n_coldkeys, self.n_hotkeys, self.n_subnets_cap], np.int64)
        k = _values_core(*pools, cks, hks, nus, hint, out, miss, limits, mask)
        if k < 0:
            i = -1 - k
            if not 0 <= cks[i] < self.n_coldkeys:
                raise InvalidAmount(f"position {i}: coldkey {int(cks[i])} does not exist")
            if not 0 <= hks[i] < self.n_hotkeys:
                raise HotKeyAccountNotExists(f"position {i}: hotkey {int(hks[i])} does not exist")
            raise SubnetNotExists(f"position {i}: netuid {int(nus[i])} is not a subnet slot")
        if k:  # positions whose slot was not known or is stale: looked up once, then valued by the same
            m = miss[:k]  # pass (those not in the map hold nothing and stay 0)
            pm._look_up(cks, hks, nus, hint, m)
            f = m[hint[m] >= 0]
            if f.size:
                found = np.zeros(f.size)
                _values_core(*pools, cks[f], hks[f], nus[f], hint[f], found, miss, limits, _ALL)
                out[f] = found
        if slots is not None and not own:
            slots[...] = hint
        return out

    def positions_of(self, coldkey: int) -> list[tuple[int, int, float]]:
        """(hotkey, netuid, alpha) of every non-empty position of ``coldkey``."""
        out = []
        for hk in np.flatnonzero(self.hotkey_owner == coldkey):
            for nu in np.flatnonzero(self._owner_shares[hk] > 0):
                out.append((int(hk), int(nu), self.position_value(coldkey, int(hk), int(nu))))
        for (ck, hk, nu), s in self.positions.items():
            if ck == coldkey and s > 0:
                out.append((hk, nu, self.position_value(ck, hk, nu)))
        return out

    # ------------------------------------------------------------------------------------ misc
    def copy(self) -> "ChainState":
        """A deep, independent copy."""
        return copy.deepcopy(self)

    def root_stake_total(self) -> float:
        """TAO staked on root, as the sum of root hotkey pools (TAO units)."""
        return float(self.hotkey_alpha[:, ROOT].sum())


def _hotkey_view(name: str) -> property:
    def get(self: "ChainState") -> np.ndarray:
        return getattr(self, "_" + name)[: self.n_hotkeys]

    get.__doc__ = HOTKEY_SUBNET_FIELDS[name]
    return property(get)


for _name in HOTKEY_SUBNET_FIELDS:
    setattr(ChainState, _name, _hotkey_view(_name))


_INF = float("inf")


def _check_amount(x: object, what: str) -> float:
    """Return ``x`` as float if it is a finite non-negative number, else raise InvalidAmount."""
    if type(x) is float and 0.0 <= x < _INF:  # the common case, decided at once
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise InvalidAmount(f"{what} must be a number, got {type(x).__name__} {x!r}")
    v = float(x)
    if v != v:
        raise InvalidAmount(f"{what} is NaN")
    if v in (float("inf"), float("-inf")):
        raise InvalidAmount(f"{what} is infinite")
    if v < 0:
        raise InvalidAmount(f"{what} is negative ({v})")
    return v


check_amount = _check_amount


# ------------------------------------------------------------------------------ compiled views
#: per-subnet integer hyperparameters as the compiled kernels read them (columns of ``KernelView.hyp_i``)
(H_TEMPO, H_KAPPA, H_BMA, H_PENALTY, H_MAXVAL, H_CUTOFF, H_LIQUID, H_ALO, H_AHI, H_YUMA3, H_TARGET_REGS,
 H_WEIGHTS_RATE) = range(12)
#: per-subnet float hyperparameters (columns of ``KernelView.hyp_f``)
HF_STEEP, HF_THRESHOLD, HF_ADJ_ALPHA, HF_MIN_BURN, HF_MAX_BURN = range(5)

#: the neuron arrays a compiled drain reads and writes, in ``Neurons`` field order, with their dtype/ndim
NEURON_KERNEL_FIELDS: tuple[tuple[str, type, int], ...] = (
    ("hotkey", np.int64, 1), ("block_at_registration", np.int64, 1), ("last_update", np.int64, 1),
    ("validator_permit", np.bool_, 1), ("weights", np.uint16, 2), ("bonds", np.uint16, 2),
    ("incentive", np.uint16, 1), ("dividends", np.uint16, 1), ("consensus", np.uint16, 1), ("trust", np.uint16, 1),
    ("validator_trust", np.uint16, 1), ("rank", np.uint16, 1), ("pruning_scores", np.uint16, 1),
    ("emission", np.float64, 1),
)
_NK_NAMES = tuple(f[0] for f in NEURON_KERNEL_FIELDS)
_NK_GET = operator.itemgetter(*_NK_NAMES)  # a Neurons __dict__ -> its kernel arrays, in field order


def _empty_neuron_tuple() -> tuple:
    return tuple(np.zeros((0,) * nd, dt) for _, dt, nd in NEURON_KERNEL_FIELDS)


@intrinsic
def _address(typingctx, addr):  # noqa: ANN001, ANN202 - an int64 address as a void pointer
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))
    return types.voidptr(types.int64), codegen


@njit(cache=True, inline="always")
def neuron_arrays(ptrs: np.ndarray, sizes: np.ndarray, nu: int) -> tuple:
    """Subnet ``nu``'s neuron arrays in ``NEURON_KERNEL_FIELDS`` order, as the kernel view holds them
    (``KernelView.ptrs``/``sizes``): the same memory as its typed-list entry, read and written in place,
    but reached without the entry's reference counting.  Taking a typed-list entry copies its 14 array
    structures and counts a reference on each (14 memory lines that a subnet's epoch or weight round
    otherwise never reads): about 0.1 us a subnet warm and 0.75 us cold, measured, against 0.09 us cold
    here.  The arrays are kept alive by the kernel view's entry, and a kernel reads only subnets whose
    entries it synced, as with the typed list."""
    n = sizes[nu]
    p = ptrs[nu]
    return (carray(_address(p[0]), (n,), np.int64), carray(_address(p[1]), (n,), np.int64),
            carray(_address(p[2]), (n,), np.int64), carray(_address(p[3]), (n,), np.bool_),
            carray(_address(p[4]), (n, n), np.uint16), carray(_address(p[5]), (n, n), np.uint16),
            carray(_address(p[6]), (n,), np.uint16), carray(_address(p[7]), (n,), np.uint16),
            carray(_address(p[8]), (n,), np.uint16), carray(_address(p[9]), (n,), np.uint16),
            carray(_address(p[10]), (n,), np.uint16), carray(_address(p[11]), (n,), np.uint16),
            carray(_address(p[12]), (n,), np.uint16), carray(_address(p[13]), (n,), np.float64))


@njit(cache=True)
def _tl_set(lst, i, item):  # noqa: ANN001, ANN202 - numba typed list setter (fast from Python)
    lst[i] = item


@njit(cache=True)
def _tl_extend(lst, item, k):  # noqa: ANN001, ANN202
    for _ in range(k):
        lst.append(item)


class KernelView:
    """What the compiled coinbase/drain read besides the state's own arrays: per-subnet hyperparameters
    as arrays (rebuilt when ``state.hyper`` changes) and each subnet's neuron arrays as a numba typed
    list of tuples (an entry is refreshed when the ``Neurons`` arrays were replaced).  Not part of the
    state: derived, rebuilt on demand, never copied or saved."""

    def __init__(self) -> None:
        from numba import typeof
        from numba.typed import List

        self.hyper_key: list | None = None
        self.hyp_i = np.zeros((0, 12), np.int64)
        self.hyp_f = np.zeros((0, 5), np.float64)
        empty = _empty_neuron_tuple()
        self._empty = empty
        self.neurons = List.empty_list(typeof(empty))
        #: per netuid, the addresses of its entry's arrays (``NEURON_KERNEL_FIELDS`` order; 0 for none) and
        #: its UID count: what :func:`neuron_arrays` reads (kept with the typed list, entry by entry)
        self.ptrs = np.zeros((0, len(NEURON_KERNEL_FIELDS)), np.int64)
        self.sizes = np.zeros(0, np.int64)
        self._py: list[tuple | None] = []
        self._src: list[tuple[Neurons, int] | None] = []  # (the Neurons, its version) each entry was taken from
        # fast path: the last Neurons version given out and the identities of state.neurons at the last
        # sync, and per netuid the version at which its entry was last found current
        self._seen_version = -1
        self._seen_list: list = []  # state.neurons' objects when last found current (held: identities stay unique)
        self._current_at = np.zeros(0, np.int64)
        #: per netuid, writes into the subnet's stored weights that a frozen round's record did not make
        #: (``weights.set_weights_rows``): counted by the writers, and whenever the subnet's entry here is
        #: rebuilt (new arrays)
        self.weights_writes = np.zeros(0, np.int64)
        #: the last frozen round of ``set_weights_rows`` and which of its rows are stored as sent
        self.rows_record: object | None = None
        #: per netuid, the bond record of its last epoch (``drain.epoch_store``): [1, the permits as bits]
        #: when that epoch left no bond outside the permit holders, [0, ...] when unknown.  Cleared here
        #: whenever the subnet's Neurons had a field assigned or its entry was rebuilt, and by
        #: :func:`writable_bonds`; the epoch is then the only writer left, as the bonds are read-only to
        #: Python otherwise (:func:`protect_bonds`)
        self.bond_rec = np.zeros((0, 1 + BOND_REC_WORDS), np.int64)
        #: per netuid, the consensus (float64 per UID) its last epoch computed, NaN where none: the
        #: median's guesses for the next epoch (``epoch_math.weighted_median_col``), which change only
        #: its speed, so nothing needs to clear them; one row per netuid, as wide as the largest subnet
        self.cons_guess = np.full((0, 0), np.nan)

    def sync_hyper(self, state: "ChainState") -> None:
        """Rebuild the hyperparameter arrays if ``state.hyper`` changed."""
        if self.hyper_key is not None and len(self.hyper_key) == len(state.hyper) and self.hyper_key == state.hyper:
            return
        cap = len(state.hyper)
        hi = np.zeros((cap, 12), np.int64)
        hf = np.zeros((cap, 5), np.float64)
        for nu, h in enumerate(state.hyper):
            if h is None:
                continue
            hi[nu] = (h.tempo, h.kappa, h.bonds_moving_average, h.bonds_penalty, h.max_allowed_validators,
                      h.activity_cutoff, int(h.liquid_alpha_on), h.alpha_low, h.alpha_high, int(h.yuma3_on),
                      h.target_registrations_per_interval, h.weights_set_rate_limit)
            hf[nu] = (h.alpha_sigmoid_steepness, h.stake_threshold, h.adjustment_alpha, h.min_burn, h.max_burn)
        self.hyp_i, self.hyp_f = hi, hf
        self.hyper_key = list(state.hyper)

    def sync_neurons(self, state: "ChainState", netuids: np.ndarray | range) -> None:
        """Make the typed-list entries of ``netuids`` refer to the subnets' current neuron arrays (arrays of
        the wrong dtype or layout are converted once and put back on the ``Neurons``)."""
        cap = len(state.neurons)
        ver = _NEURON_VERSION[0]
        nus = np.asarray(netuids, np.int64)
        # no Neurons had a field assigned and state.neurons holds the same objects since every one of
        # these entries was last found current: nothing to do (a Neurons put back in the list keeps its
        # version, so the identities are compared too: one pass of `is`, the objects held)
        same = len(self._seen_list) == cap and all(map(operator.is_, state.neurons, self._seen_list))
        if ver == self._seen_version and same and self._current_at.size >= cap and (
                nus.size == 0 or bool((self._current_at[nus] == ver).all())):
            return
        if ver != self._seen_version or not same:
            self._current_at[:] = -1
            self._seen_version, self._seen_list = ver, list(state.neurons)
        if self._current_at.size < cap:
            self._current_at = np.concatenate([self._current_at, np.full(cap - self._current_at.size, -1, np.int64)])
        if self.weights_writes.size < cap:
            self.weights_writes = np.concatenate([self.weights_writes,
                                                  np.zeros(cap - self.weights_writes.size, np.int64)])
        if self.bond_rec.shape[0] < cap:
            self.bond_rec = np.concatenate([self.bond_rec,
                                            np.zeros((cap - self.bond_rec.shape[0], 1 + BOND_REC_WORDS), np.int64)])
        if self.cons_guess.shape[0] < cap:
            self._grow_guesses(cap, 0)
        if self.sizes.size < cap:
            k = cap - self.sizes.size
            self.ptrs = np.concatenate([self.ptrs, np.zeros((k, len(NEURON_KERNEL_FIELDS)), np.int64)])
            self.sizes = np.concatenate([self.sizes, np.zeros(k, np.int64)])
        if len(self._py) < cap:
            k = cap - len(self._py)
            _tl_extend(self.neurons, self._empty, k)
            self._py.extend([None] * k)
            self._src.extend([None] * k)
        self._sync_each(state, nus)
        if _NEURON_VERSION[0] != ver:  # arrays converted for the kernels were put back on their Neurons
            self._current_at[:] = -1
            self._seen_version, self._seen_list = _NEURON_VERSION[0], list(state.neurons)
        self._current_at[nus] = self._seen_version

    def _grow_guesses(self, rows: int, width: int) -> None:
        """At least ``rows`` netuids and ``width`` UIDs of consensus guesses (new entries NaN)."""
        old = self.cons_guess
        g = np.full((max(rows, old.shape[0]), max(width, old.shape[1])), np.nan)
        g[:old.shape[0], :old.shape[1]] = old
        self.cons_guess = g

    def _sync_each(self, state: "ChainState", netuids: np.ndarray) -> None:
        src = self._src
        for nu in netuids:
            nu = int(nu)
            nr = state.neurons[nu]
            was = src[nu]
            if was is not None and was[0] is nr and was[1] == nr._version:
                continue  # no field assigned since the entry was taken: the same arrays
            self.bond_rec[nu, 0] = 0  # (a field assigned, other Neurons, or bonds written from Python)
            cur = self._py[nu]
            if nr is None:
                if cur is not None:
                    _tl_set(self.neurons, nu, self._empty)
                    self._py[nu] = None
                    src[nu] = None
                    self.ptrs[nu] = 0
                    self.sizes[nu] = 0
                continue
            d = nr.__dict__
            if cur is not None and _same_arrays(cur, _NK_GET(d)):
                src[nu] = (nr, nr._version)
                continue
            protect_bonds(nr)  # (may put an owning copy on nr)
            vals = []
            n = int(np.shape(d["hotkey"])[0])
            for name, dt, nd in NEURON_KERNEL_FIELDS:
                a = d[name]
                if not (isinstance(a, np.ndarray) and a.dtype == dt and a.ndim == nd and a.flags.c_contiguous
                        and a.flags.writeable):
                    if name in _PROTECTABLE and is_protected(a):  # (protected: u16, C-contiguous, owning)
                        a = _writable_alias(a)  # the compiled writers write through it (not put back)
                    else:
                        a = np.array(a, dtype=dt, order="C")
                        setattr(nr, name, a)
                if a.shape != (n,) * nd:
                    raise ValueError(f"subnet {nu}: neurons.{name} has shape {a.shape}, expected {(n,) * nd}")
                vals.append(a)
            if n > self.cons_guess.shape[1]:
                self._grow_guesses(0, n)
            tup = tuple(vals)
            _tl_set(self.neurons, nu, tup)
            self.ptrs[nu] = [a.ctypes.data for a in vals]
            self.sizes[nu] = n
            self._py[nu] = tup
            src[nu] = (nr, nr._version)  # (after protect_bonds: its copy is a new version)
            self.weights_writes[nu] += 1  # (other arrays: nothing recorded of the old ones holds)


#: the stored weights and bonds arrays made read-only by :func:`protect_weights` and :func:`protect_bonds`,
#: by id (weak: an array dropped from the state is forgotten)
_PROTECTED: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()
_PROTECTABLE = ("weights", "bonds")
_K_PROTECTABLE = tuple(_NK_NAMES.index(name) for name in _PROTECTABLE)


def _protect(nr: Neurons, name: str) -> None:
    """Make ``nr``'s stored ``name`` matrix (weights or bonds) read-only to Python (see
    :func:`protect_weights`); an array that is not an owning C-contiguous u16 matrix is replaced by an
    owning copy, which is protected instead."""
    a = getattr(nr, name)
    if is_protected(a):
        return
    if not (isinstance(a, np.ndarray) and a.flags.owndata and a.flags.writeable and a.flags.c_contiguous
            and a.dtype == np.uint16):
        a = np.array(a, dtype=np.uint16, order="C")
        setattr(nr, name, a)
    a.flags.writeable = False
    _PROTECTED[id(a)] = a


def protect_weights(nr: Neurons) -> None:
    """Make the subnet's stored weights read-only to Python (``nr.weights[...] = x`` then raises), so
    that only the chain's writers change them: its compiled writers through a writable alias (the
    kernel view's), ``set_weights`` through :func:`writable_weights`.  Needed before the chain may trust
    a record of what it stored (``weights.set_weights_rows``' frozen rounds).  An array that does not
    own its memory (a view, as a snapshot's loader makes) cannot be protected: it is replaced by an
    owning copy, which is protected instead (a new array, so the next sync rebuilds the subnet's entry
    and counts a write in ``KernelView.weights_writes``)."""
    _protect(nr, "weights")


def protect_bonds(nr: Neurons) -> None:
    """Make the subnet's stored bonds read-only to Python, as :func:`protect_weights` does the weights:
    the epoch writes them through the kernel view's writable alias, a registration clears a row through
    :func:`writable_bonds`, and nothing else writes them.  The kernel view protects a subnet's bonds
    when it takes its arrays, so that the epoch may trust its bond record (``KernelView.bond_rec``)."""
    _protect(nr, "bonds")


def is_protected(a: object) -> bool:
    """Whether ``a`` is a stored weights or bonds array made read-only by :func:`protect_weights` or
    :func:`protect_bonds`."""
    return _PROTECTED.get(id(a)) is a


def _writable_alias(a: np.ndarray) -> np.ndarray:
    """A writable view of a protected array (the array itself stays read-only)."""
    a.flags.writeable = True
    try:
        return a.view()
    finally:
        a.flags.writeable = False


@contextmanager
def _writable(a: np.ndarray) -> Iterator[np.ndarray]:
    """``a`` writable inside the block; a protected array is read-only again after it."""
    protected = is_protected(a)
    if protected:
        a.flags.writeable = True
    try:
        yield a
    finally:
        if protected:
            a.flags.writeable = False


@contextmanager
def writable_weights(nr: Neurons) -> Iterator[np.ndarray]:
    """``with writable_weights(nr) as w:`` -- the subnet's stored weights, writable inside the block (a
    protected array is read-only again after it).  For the chain's Python writers only."""
    with _writable(nr.weights) as w:
        yield w


@contextmanager
def writable_bonds(nr: Neurons) -> Iterator[np.ndarray]:
    """``with writable_bonds(nr) as b:`` -- the subnet's stored bonds, writable inside the block (read-only
    again after it, if protected).  Leaving the block gives the Neurons a new version, so the kernel
    view clears the subnet's bond record before its next epoch.  For the chain's Python writers (a
    registration clearing a row) and for setting up a state's bonds by hand."""
    try:
        with _writable(nr.bonds) as b:
            yield b
    finally:
        nr.touch()


def _same_arrays(cur: tuple, arrays: tuple) -> bool:
    """Whether a kernel-view entry ``cur`` holds ``arrays`` (protected weights and bonds by their
    writable alias)."""
    for k, (c, a) in enumerate(zip(cur, arrays)):
        if c is a:
            continue
        if k in _K_PROTECTABLE and c.base is a and is_protected(a):
            continue
        return False
    return True


_VIEWS: dict[int, KernelView] = {}


def kernel_view(state: "ChainState") -> KernelView:
    """The :class:`KernelView` of ``state`` (created on first use, dropped with the state)."""
    v = _VIEWS.get(id(state))
    if v is None:
        import weakref

        v = _VIEWS[id(state)] = KernelView()
        weakref.finalize(state, _VIEWS.pop, id(state), None)
    v.sync_hyper(state)
    return v
