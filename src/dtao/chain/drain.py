"""``drain_pending_emission`` (spec 3.3-3.4): Yuma epoch, validator budget, childkey split, dividend
distribution between alpha and root TAO, delegate take, owner cut, owner-hotkey incentive burn.

The drain is compiled: :func:`epoch_store` runs one subnet's epoch on its stored neuron arrays and
writes the results back in place, :func:`distribute_core` pays the emission into the share pools.
The block loop (:mod:`dtao.chain.coinbase`) calls both without leaving compiled code.  When
childkeys exist anywhere, :func:`drain_pending_emission_batch` runs the same two functions from
Python, computing the inherited stakes and the parent/child dividend split in between.
"""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

import numpy as np
from numba import njit

from dtao.chain.childkeys import inherited_stakes
from dtao.chain.epoch import EpochHyper, _epoch_core
from dtao.chain.stake_pool import credit_owner_core, drop_nominators, increase_pool_core
from dtao.chain.state import (
    BOND_REC_WORDS,
    DIV_ROWS_CAP,
    H_AHI,
    H_ALO,
    H_BMA,
    H_CUTOFF,
    H_KAPPA,
    H_LIQUID,
    H_MAXVAL,
    H_PENALTY,
    H_TEMPO,
    H_YUMA3,
    HF_STEEP,
    HF_THRESHOLD,
    ROOT,
    ChainState,
    kernel_view,
)
from dtao.chain.threads import regions_pay

if TYPE_CHECKING:
    from dtao.chain.coinbase import Drain

#: slots of the float scalar array shared by the compiled coinbase and drain (``ChainState`` scalars)
SC_ISSUANCE, SC_STAKE, SC_INJECTED, SC_TAO_UNOWNED, SC_ROOT_OFF, SC_LAST_E = range(6)
#: slots of a drain's paid amounts (alpha/TAO units)
PAID_INCENTIVE, PAID_BURNED, PAID_ALPHA_DIVS, PAID_TAO_DIVS = range(4)


def epoch_hyper(state: ChainState, netuid: int) -> EpochHyper:
    """The epoch's hyperparameters for ``netuid`` from its SubnetHyper."""
    h = state.hyper[netuid]
    return EpochHyper(
        tempo=h.tempo, kappa=h.kappa, bonds_moving_average=h.bonds_moving_average, bonds_penalty=h.bonds_penalty,
        max_allowed_validators=h.max_allowed_validators, activity_cutoff=h.activity_cutoff,
        liquid_alpha_on=h.liquid_alpha_on, alpha_low=h.alpha_low, alpha_high=h.alpha_high, yuma3_on=h.yuma3_on,
        alpha_sigmoid_steepness=h.alpha_sigmoid_steepness, stake_threshold=h.stake_threshold,
    )


def parent_child_split(state: ChainState, hotkey: int, netuid: int, dividend: float) -> list[tuple[int, float]]:
    """``get_parent_child_dividends_distribution`` (v2.0.11): share hotkey's ``dividend`` with its parents.

    Each parent p with proportion q contributes ``q*(alpha_p + tw*root_p)``; the child's own part is
    ``(alpha_c + tw*root_c)*(1 - sum of its children's proportions)``.  A parent gets ``D*contrib/total``
    minus the child's take unless both have the same owner coldkey; the child keeps the rest.
    """
    parents = state.parents.get((hotkey, netuid))
    if not parents:
        return [(hotkey, dividend)]
    tw = state.params.tao_weight
    own = lambda hk: state.hotkey_alpha[hk, netuid] + tw * state.hotkey_alpha[hk, ROOT]  # noqa: E731
    child_props = sum(q for q, _ in state.children.get((hotkey, netuid), []))
    self_c = own(hotkey) * max(1.0 - child_props, 0.0)
    contribs = [(p, q * own(p)) for q, p in parents]
    total = self_c + sum(c for _, c in contribs)
    if total <= 0:
        return [(hotkey, dividend)]
    take = float(state.childkey_take[hotkey, netuid])
    out: list[tuple[int, float]] = []
    paid = 0.0
    takes = 0.0
    for p, c in contribs:
        gross = dividend * c / total
        t = 0.0 if state.hotkey_owner[p] == state.hotkey_owner[hotkey] else gross * take
        out.append((p, gross - t))
        paid += gross
        takes += t
    out.append((hotkey, dividend - paid + takes))
    return out


@njit(cache=True)
def calculate_dividend_distribution(alpha_stake: np.ndarray, root_stake: np.ndarray, dividends: np.ndarray,
                                    tao_weight: float, pending_validator_alpha: float,
                                    pending_tao: float) -> tuple[np.ndarray, np.ndarray]:
    """``calculate_dividend_distribution``: split each hotkey's dividend d into a root part paid in TAO
    and an alpha part.  ``root_prop = tw*r/(a + tw*r)``; TAO paid ``pending_tao*root_div/sum(root_div)``;
    alpha paid ``pending_validator_alpha*alpha_div/sum(alpha_div)``.  Returns (alpha, tao) per hotkey
    (alpha/TAO units)."""
    n = dividends.size
    root_div = np.empty(n)
    alpha_div = np.empty(n)
    sr = 0.0
    sa = 0.0
    for i in range(n):
        wr = tao_weight * root_stake[i]
        denom = alpha_stake[i] + wr
        rp = wr / denom if denom > 0.0 else 0.0
        rd = dividends[i] * rp
        root_div[i] = rd
        alpha_div[i] = dividends[i] - rd
        sr += rd
        sa += alpha_div[i]
    tao = np.zeros(n)
    alpha = np.zeros(n)
    if sr > 0.0:
        for i in range(n):
            tao[i] = pending_tao * root_div[i] / sr
    if sa > 0.0:
        for i in range(n):
            alpha[i] = pending_validator_alpha * alpha_div[i] / sa
    return alpha, tao


@njit(cache=True)
def owner_uid_of(hotkeys: np.ndarray, owner_hotkey: int) -> int:
    """The subnet owner's UID (first UID holding ``owner_hotkey``), -1 if none."""
    if owner_hotkey < 0:
        return -1
    for u in range(hotkeys.size):
        if hotkeys[u] == owner_hotkey:
            return u
    return -1


@njit(cache=True)
def epoch_store(block: int, emission: float, stake: np.ndarray, owner_uid: int, hi: np.ndarray, hf: np.ndarray,
                nt: tuple, server: np.ndarray, validator: np.ndarray, serial: bool, bond_rec: np.ndarray,
                guess: np.ndarray) -> None:
    """Run one subnet's Yuma epoch on its stored neuron arrays ``nt`` (``NEURON_KERNEL_FIELDS``) and
    store the results in place: the u16 vectors, ``emission`` (alpha per UID), the bonds and the new
    permits.  ``emission`` (TAO units) is what the epoch distributes; ``stake`` the stake weight per UID;
    ``hi``/``hf`` the subnet's hyperparameter rows.  ``server``/``validator`` (n,) receive the miners'
    and validators' shares of the emission.  ``serial``: no parallel region (the caller is not the
    main thread, or one thread was timed cheaper lately: :mod:`dtao.chain.threads`).

    ``bond_rec`` (int64, ``1 + BOND_REC_WORDS``): the subnet's bond record in the kernel view
    (``KernelView.bond_rec``), read and rewritten here.  It holds 1 and the stored permits as bits when
    this epoch left no bond outside the permit holders; the view clears it whenever anything else may
    have written the subnet's bonds or replaced its arrays.  When it holds and the stored permits are
    still those bits, the next epoch knows that no UID without a permit holds a bond and does not scan
    the bond rows for one (``_epoch_core``'s stray rows): the same results, without reading 3/4 of the
    bond matrix.

    ``guess`` (float64, at least n, or empty): the subnet's row of consensus guesses in the kernel view
    (``KernelView.cons_guess``), read and rewritten by the consensus (``_epoch_core``'s ``cons_guess``)."""
    hotkey, reg, last_update, permit, weights, bonds, inc, div, cons, trust, vtrust, rank, prune, em = nt
    n = hotkey.size
    pi = np.empty(14, np.int64)
    pi[0] = block
    pi[1] = hi[H_TEMPO]
    pi[2] = hi[H_KAPPA]
    pi[3] = hi[H_BMA]
    pi[4] = hi[H_PENALTY]
    pi[5] = hi[H_MAXVAL]
    pi[6] = hi[H_CUTOFF]
    pi[7] = hi[H_LIQUID]
    pi[8] = hi[H_ALO]
    pi[9] = hi[H_AHI]
    pi[10] = hi[H_YUMA3]
    pi[11] = owner_uid
    pi[12] = serial
    pi[13] = _bond_record_holds(bond_rec, permit)
    pf = np.empty(3)
    pf[0] = emission
    pf[1] = hf[HF_STEEP]
    pf[2] = hf[HF_THRESHOLD]
    out_u16 = np.empty((7, n), np.int64)
    out_em = np.empty((2, n))
    out_permit = np.empty(n, np.bool_)
    # the kernel reads the old bonds before it writes any, so the stored bonds are updated in place
    strays = _epoch_core(pi, pf, stake, weights, np.zeros((0, 0), np.bool_), bonds, permit, last_update, reg,
                         cons, guess[:n] if guess.size >= n else guess[:0], out_u16, out_em, bonds, out_permit)
    _store_vectors(out_u16, out_em, out_permit, inc, div, cons, trust, vtrust, rank, prune, em, permit, server,
                   validator)
    # rows that lost their permit were cleared and the new permit holders' rows written: with no stray
    # row, every bond is now on a UID with a stored permit
    _bond_record_set(bond_rec, permit, strays == 0)


@njit(cache=True)
def _permit_word(permit: np.ndarray, w: int) -> np.int64:
    """Bits ``64w .. 64w+63`` of the permit vector (bit b = UID 64w + b holds a permit)."""
    x = np.int64(0)
    lo = 64 * w
    for b in range(min(64, permit.size - lo)):
        if permit[lo + b]:
            x |= np.int64(1) << np.int64(b)
    return x


@njit(cache=True)
def _bond_record_holds(rec: np.ndarray, permit: np.ndarray) -> bool:
    """Whether the bond record says that no UID without a permit holds a bond: it was set by the last
    epoch (nothing else wrote the bonds since) and the stored permits are the ones it recorded."""
    if rec[0] != 1 or permit.size > 64 * BOND_REC_WORDS:
        return False
    for w in range(BOND_REC_WORDS):
        if _permit_word(permit, w) != rec[1 + w]:
            return False
    return True


@njit(cache=True)
def _bond_record_set(rec: np.ndarray, permit: np.ndarray, clean: bool) -> None:
    """Record (or, ``clean`` False or the subnet too large, clear) "no bond outside ``permit``"."""
    if not clean or permit.size > 64 * BOND_REC_WORDS:
        rec[0] = 0
        return
    for w in range(BOND_REC_WORDS):
        rec[1 + w] = _permit_word(permit, w)
    rec[0] = 1


@njit(cache=True, inline="never")
def _store_vectors(out_u16: np.ndarray, out_em: np.ndarray, out_permit: np.ndarray, inc: np.ndarray,
                   div: np.ndarray, cons: np.ndarray, trust: np.ndarray, vtrust: np.ndarray, rank: np.ndarray,
                   prune: np.ndarray, em: np.ndarray, permit: np.ndarray, server: np.ndarray,
                   validator: np.ndarray) -> None:
    """Copy the epoch's outputs into the subnet's stored vectors (u16 values, alpha per UID, permits)."""
    for i in range(inc.size):
        inc[i] = out_u16[0, i]
        div[i] = out_u16[1, i]
        cons[i] = out_u16[2, i]
        trust[i] = out_u16[3, i]
        vtrust[i] = out_u16[4, i]
        rank[i] = out_u16[5, i]
        prune[i] = out_u16[6, i]
        em[i] = out_em[0, i] + out_em[1, i]
        permit[i] = out_permit[i]
        server[i] = out_em[0, i]
        validator[i] = out_em[1, i]


@njit(cache=True)
def _push_empty(buf: np.ndarray, n: int, found: np.ndarray, k: int, netuid: int) -> np.ndarray:
    """Append ``found[:k]`` (hotkeys of restarted pools on ``netuid``) to the (m, 2) buffer; grows it."""
    if n + k > buf.shape[0]:
        nb = np.empty((max(2 * buf.shape[0], n + k), 2), np.int64)
        nb[:n] = buf[:n]
        buf = nb
    for t in range(k):
        buf[n + t, 0] = found[t]
        buf[n + t, 1] = netuid
    return buf


@njit(cache=True)
def _credit(hotkey_alpha: np.ndarray, hotkey_shares: np.ndarray, owner_shares: np.ndarray, hotkeys: np.ndarray,
            netuid: int, alpha: np.ndarray, empt: np.ndarray, n_empty: np.ndarray) -> np.ndarray:
    found = np.empty(hotkeys.size, np.int64)
    k = credit_owner_core(hotkey_alpha, hotkey_shares, owner_shares, hotkeys, netuid, alpha, found)
    if k:
        empt = _push_empty(empt, n_empty[0], found, k, netuid)
        n_empty[0] += k
    return empt


@njit(cache=True)
def distribute_core(netuid: int, hotkeys: np.ndarray, incentive: np.ndarray, recv: np.ndarray, divs: np.ndarray,
                    pending_alpha: float, pending_swapped: float, pending_tao: float, owner_cut: float,
                    owner_hk: int, tao_weight: float, owner_incentive_burn: bool, root_divs_to_subnet_tao: bool,
                    hotkey_alpha: np.ndarray, hotkey_shares: np.ndarray, owner_shares: np.ndarray,
                    hotkey_take: np.ndarray, alpha_divs: np.ndarray, tao_divs: np.ndarray, alpha_last_epoch: np.ndarray,
                    div_rows: np.ndarray, div_rows_n: np.ndarray, alpha_unowned: np.ndarray, tao_reserve: np.ndarray,
                    sc: np.ndarray, empt: np.ndarray, n_empty: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """``drain_pending_emission`` after the epoch: the validator budget, the dividend split computed on
    the stakes *before* this drain credits anything (as on chain), then
    ``distribute_dividends_and_incentives``: owner cut, miner incentive (the owner hotkey's burned),
    alpha dividends (take to the owner, the rest to the pool), TAO dividends on root the same way.

    ``hotkeys``/``incentive``: the subnet's UIDs and their server emission (alpha); ``recv``/``divs``:
    the hotkeys receiving validator dividends and their amounts (alpha; after the childkey split).
    Pools restarted by a credit are appended to ``empt`` (returned, maybe reallocated; count in
    ``n_empty[0]``); ``paid`` receives incentive paid, incentive burned, alpha and TAO dividends paid.
    """
    inc_sum = 0.0
    for i in range(incentive.size):
        inc_sum += incentive[i]
    # validator alpha budget (v2.0.9+)
    if inc_sum > 0.0:
        pending_validator_alpha = max((pending_alpha + pending_swapped) / 2.0 - pending_swapped, 0.0)
    else:
        pending_validator_alpha = pending_alpha
    m = recv.size
    a_st = np.empty(m)
    r_st = np.empty(m)
    for t in range(m):
        a_st[t] = hotkey_alpha[recv[t], netuid]
        r_st[t] = hotkey_alpha[recv[t], ROOT]
    alpha_paid, tao_paid = calculate_dividend_distribution(a_st, r_st, divs, tao_weight, pending_validator_alpha,
                                                           pending_tao)
    # owner cut
    if owner_cut > 0.0:
        if owner_hk >= 0:
            one_hk = np.empty(1, np.int64)
            one_hk[0] = owner_hk
            one_a = np.empty(1)
            one_a[0] = owner_cut
            empt = _credit(hotkey_alpha, hotkey_shares, owner_shares, one_hk, netuid, one_a, empt, n_empty)
        else:
            alpha_unowned[netuid] += owner_cut
    # incentive to miners (the owner hotkey's incentive burned since v2.0.8)
    inc = incentive.copy()
    burned = 0.0
    if owner_incentive_burn and owner_hk >= 0:
        for i in range(inc.size):
            if hotkeys[i] == owner_hk:
                burned += inc[i]
                inc[i] = 0.0
    empt = _credit(hotkey_alpha, hotkey_shares, owner_shares, hotkeys, netuid, inc, empt, n_empty)
    alpha_unowned[netuid] += burned
    inc_paid = 0.0
    for i in range(inc.size):
        inc_paid += inc[i]
    # last epoch's dividend records of this subnet are cleared
    cnt = div_rows_n[netuid]
    if cnt >= 0:
        for t in range(cnt):
            hk = div_rows[netuid, t]
            alpha_divs[hk, netuid] = 0.0
            tao_divs[hk, netuid] = 0.0
    else:
        for hk in range(alpha_divs.shape[0]):
            alpha_divs[hk, netuid] = 0.0
            tao_divs[hk, netuid] = 0.0
    # alpha dividends: the take to the hotkey's owner, the rest to the pool (nominators pro rata)
    take_a = np.empty(m)
    net_a = np.empty(m)
    for t in range(m):
        tk = hotkey_take[recv[t]]
        take_a[t] = alpha_paid[t] * tk
        net_a[t] = alpha_paid[t] * (1.0 - tk)
    empt = _credit(hotkey_alpha, hotkey_shares, owner_shares, recv, netuid, take_a, empt, n_empty)
    increase_pool_core(hotkey_alpha, recv, netuid, net_a)
    for t in range(m):
        alpha_divs[recv[t], netuid] = net_a[t]  # recorded net of take, as on chain
        alpha_last_epoch[recv[t], netuid] = hotkey_alpha[recv[t], netuid]
    # TAO dividends, the same on root
    for t in range(m):
        tk = hotkey_take[recv[t]]
        take_a[t] = tao_paid[t] * tk
        net_a[t] = tao_paid[t] * (1.0 - tk)
    empt = _credit(hotkey_alpha, hotkey_shares, owner_shares, recv, ROOT, take_a, empt, n_empty)
    increase_pool_core(hotkey_alpha, recv, ROOT, net_a)
    for t in range(m):
        tao_divs[recv[t], netuid] = net_a[t]
    if m <= div_rows.shape[1]:
        for t in range(m):
            div_rows[netuid, t] = recv[t]
        div_rows_n[netuid] = m
    else:
        div_rows_n[netuid] = -1
    tao_total = 0.0
    alpha_total = 0.0
    for t in range(m):
        tao_total += tao_paid[t]
        alpha_total += alpha_paid[t]
    if root_divs_to_subnet_tao:
        tao_reserve[ROOT] += tao_total
    else:
        sc[SC_ROOT_OFF] += tao_total
    # whatever the epoch could not place stays minted in SubnetAlphaOut but held by no one
    # (signed: negative if the chain credits more stake than it minted, which its separate ledgers allow)
    alpha_unowned[netuid] += pending_alpha - inc_paid - burned - alpha_total
    sc[SC_TAO_UNOWNED] += pending_tao - tao_total
    paid[PAID_INCENTIVE] = inc_paid
    paid[PAID_BURNED] = burned
    paid[PAID_ALPHA_DIVS] = alpha_total
    paid[PAID_TAO_DIVS] = tao_total
    return empt


def _scalars(state: ChainState) -> np.ndarray:
    sc = np.zeros(6)
    sc[SC_ISSUANCE], sc[SC_STAKE], sc[SC_INJECTED] = state.total_issuance, state.total_stake, state.tao_injected
    sc[SC_TAO_UNOWNED], sc[SC_ROOT_OFF] = state.tao_unowned, state.root_divs_off_ledger
    return sc


def _store_scalars(state: ChainState, sc: np.ndarray) -> None:
    state.total_issuance, state.total_stake, state.tao_injected = (float(sc[SC_ISSUANCE]), float(sc[SC_STAKE]),
                                                                    float(sc[SC_INJECTED]))
    state.tao_unowned, state.root_divs_off_ledger = float(sc[SC_TAO_UNOWNED]), float(sc[SC_ROOT_OFF])


def drain_pending_emission_batch(state: ChainState, drains: Sequence["Drain"]) -> None:
    """Drain every subnet in ``drains`` (all firing this block), from Python: the stake weights of all
    of them are gathered first (inherited through childkeys), then each subnet's epoch and payout run
    in turn through the compiled :func:`epoch_store` and :func:`distribute_core`, with the parent/child
    dividend split in between.  Fills each Drain's paid amounts."""
    if not drains:
        return
    view = kernel_view(state)
    view.sync_neurons(state, [d.netuid for d in drains])
    p = state.params
    tw = p.tao_weight
    stakes = []
    for d in drains:
        hks = state.neurons[d.netuid].hotkey
        alpha, tao = inherited_stakes(state, hks, d.netuid)
        stakes.append(np.ascontiguousarray(alpha + tw * tao, np.float64))
    owner_uids = [owner_uid_of(state.neurons[d.netuid].hotkey, int(state.owner_hotkey[d.netuid])) for d in drains]
    sc = _scalars(state)
    empt = np.zeros((16, 2), np.int64)
    n_empty = np.zeros(1, np.int64)
    paid = np.zeros(4)
    for d, stake, ouid in zip(drains, stakes, owner_uids):
        nu = d.netuid
        nt = view.neurons[nu]
        hotkeys = state.neurons[nu].hotkey
        n = hotkeys.size
        server, validator = np.empty(n), np.empty(n)
        epoch_store(state.block, d.pending_alpha + d.pending_swapped, stake, ouid, view.hyp_i[nu], view.hyp_f[nu],
                    nt, server, validator, not regions_pay(), view.bond_rec[nu], view.cons_guess[nu])
        if state.parents:
            per_hk: dict[int, float] = defaultdict(float)
            for hk, dv in zip(hotkeys, validator):
                for r, x in parent_child_split(state, int(hk), nu, float(dv)):
                    per_hk[r] += x
            recv = np.array(sorted(per_hk), np.int64)
            divs = np.array([per_hk[int(h)] for h in recv], np.float64)
        else:
            recv, divs = hotkeys, validator
        empt = distribute_core(nu, hotkeys, server, recv, divs, d.pending_alpha, d.pending_swapped, d.pending_tao,
                               d.owner_cut, int(state.owner_hotkey[nu]), tw, p.owner_incentive_burn,
                               p.root_divs_to_subnet_tao, state._hotkey_alpha, state._hotkey_shares,
                               state._owner_shares, state._hotkey_take, state._alpha_dividends_per_subnet,
                               state._tao_dividends_per_subnet, state._hotkey_alpha_last_epoch, state._div_rows,
                               state._div_rows_n, state.alpha_unowned, state.tao_reserve, sc, empt, n_empty, paid)
        d.incentive_paid, d.incentive_burned = float(paid[PAID_INCENTIVE]), float(paid[PAID_BURNED])
        d.alpha_dividends_paid, d.tao_dividends_paid = float(paid[PAID_ALPHA_DIVS]), float(paid[PAID_TAO_DIVS])
    _store_scalars(state, sc)
    k = int(n_empty[0])
    if k:
        drop_nominators(state, {(int(h), int(nu)) for h, nu in empt[:k]})
