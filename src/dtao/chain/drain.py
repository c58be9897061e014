"""``drain_pending_emission`` (spec 3.3-3.4): Yuma epoch, validator budget, childkey split, dividend
distribution between alpha and root TAO, delegate take, owner cut, owner-hotkey incentive burn."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from dtao.chain.childkeys import inherited_stakes
from dtao.chain.coinbase import Drain
from dtao.chain.epoch import EpochHyper, EpochInput, EpochOutput, epoch_batch
from dtao.chain.stake_pool import credit_owner_stake, increase_stake_for_hotkey_on_subnet
from dtao.chain.state import ROOT, ChainState


def epoch_hyper(state: ChainState, netuid: int) -> EpochHyper:
    """The epoch's hyperparameters for ``netuid`` from its SubnetHyper."""
    h = state.hyper[netuid]
    return EpochHyper(
        tempo=h.tempo, kappa=h.kappa, bonds_moving_average=h.bonds_moving_average, bonds_penalty=h.bonds_penalty,
        max_allowed_validators=h.max_allowed_validators, activity_cutoff=h.activity_cutoff,
        liquid_alpha_on=h.liquid_alpha_on, alpha_low=h.alpha_low, alpha_high=h.alpha_high, yuma3_on=h.yuma3_on,
        alpha_sigmoid_steepness=h.alpha_sigmoid_steepness, stake_threshold=h.stake_threshold,
    )


def epoch_input(state: ChainState, netuid: int, emission: float) -> EpochInput:
    """Gather one subnet's epoch input: S = inherited alpha + tao_weight * inherited root stake."""
    nr = state.neurons[netuid]
    alpha, tao = inherited_stakes(state, nr.hotkey, netuid)
    owner_uid = state.uid_of(netuid, int(state.owner_hotkey[netuid])) if state.owner_hotkey[netuid] >= 0 else None
    return EpochInput(
        netuid=netuid, block=state.block, emission=emission, stake=alpha + state.params.tao_weight * tao,
        weights=nr.weights, bonds=nr.bonds, validator_permit=nr.validator_permit, last_update=nr.last_update,
        block_at_registration=nr.block_at_registration, owner_uid=-1 if owner_uid is None else owner_uid,
        hyper=epoch_hyper(state, netuid),
    )


def store_epoch_output(state: ChainState, netuid: int, out: EpochOutput) -> None:
    """Write the epoch's stored vectors (u16), emissions, bonds and new permits to the subnet's neurons."""
    nr = state.neurons[netuid]
    for name in ("incentive", "dividends", "consensus", "trust", "validator_trust", "rank", "pruning_scores"):
        setattr(nr, name, np.asarray(getattr(out, name), np.uint16))
    nr.emission = np.asarray(out.server_emission + out.validator_emission, np.float64)
    b = out.bonds
    nr.bonds = np.asarray(b.toarray() if hasattr(b, "toarray") else b, np.uint16)
    nr.validator_permit = np.asarray(out.validator_permit, bool)


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


def calculate_dividend_distribution(alpha_stake: np.ndarray, root_stake: np.ndarray, dividends: np.ndarray,
                                    tao_weight: float, pending_validator_alpha: float,
                                    pending_tao: float) -> tuple[np.ndarray, np.ndarray]:
    """``calculate_dividend_distribution``: split each hotkey's dividend d into a root part paid in TAO
    and an alpha part.  ``root_prop = tw*r/(a + tw*r)``; TAO paid ``pending_tao*root_div/sum(root_div)``;
    alpha paid ``pending_validator_alpha*alpha_div/sum(alpha_div)``.  Returns (alpha, tao) per hotkey."""
    wr = tao_weight * root_stake
    denom = alpha_stake + wr
    root_prop = np.divide(wr, denom, out=np.zeros_like(denom), where=denom > 0)
    root_div = dividends * root_prop
    alpha_div = dividends - root_div
    sr, sa = float(root_div.sum()), float(alpha_div.sum())
    tao = pending_tao * root_div / sr if sr > 0 else np.zeros_like(root_div)
    alpha = pending_validator_alpha * alpha_div / sa if sa > 0 else np.zeros_like(alpha_div)
    return alpha, tao


def drain_pending_emission_batch(state: ChainState, drains: list[Drain]) -> None:
    """Drain every subnet in ``drains`` (all firing this block); their epochs run in one batched call."""
    inputs = [epoch_input(state, d.netuid, d.pending_alpha + d.pending_swapped) for d in drains]
    outputs = epoch_batch(inputs)
    for d, out in zip(drains, outputs):
        store_epoch_output(state, d.netuid, out)
        _distribute(state, d, out)


def _distribute(state: ChainState, d: Drain, out: EpochOutput) -> None:
    """``drain_pending_emission`` after the epoch: the validator budget, the dividend split computed on
    the stakes *before* this drain credits anything (as on chain), then
    ``distribute_dividends_and_incentives``: owner cut, miner incentive (the owner hotkey's burned),
    alpha dividends (take to the owner, the rest to the pool), TAO dividends on root the same way."""
    netuid = d.netuid
    p = state.params
    nr = state.neurons[netuid]
    hotkeys = nr.hotkey
    incentive = np.asarray(out.server_emission, np.float64)
    dividend = np.asarray(out.validator_emission, np.float64)
    # validator alpha budget (v2.0.9+)
    if incentive.sum() > 0:
        pending_validator_alpha = max((d.pending_alpha + d.pending_swapped) / 2.0 - d.pending_swapped, 0.0)
    else:
        pending_validator_alpha = d.pending_alpha
    # dividends through the childkey split, summed per receiving hotkey (every neuron is a key)
    if state.parents:
        per_hk: dict[int, float] = defaultdict(float)
        for hk, dv in zip(hotkeys, dividend):
            for r, x in parent_child_split(state, int(hk), netuid, float(dv)):
                per_hk[r] += x
        recv = np.array(sorted(per_hk), np.int64)
        divs = np.array([per_hk[int(h)] for h in recv], np.float64)
    else:
        recv, divs = hotkeys, dividend
    alpha_paid, tao_paid = calculate_dividend_distribution(
        state.hotkey_alpha[recv, netuid], state.hotkey_alpha[recv, ROOT], divs, p.tao_weight,
        pending_validator_alpha, d.pending_tao)
    # owner cut
    owner_hk = int(state.owner_hotkey[netuid])
    if d.owner_cut > 0:
        if owner_hk >= 0:
            credit_owner_stake(state, np.array([owner_hk]), netuid, np.array([d.owner_cut]))
        else:
            state.alpha_unowned[netuid] += d.owner_cut
    # incentive to miners (the owner hotkey's incentive burned since v2.0.8)
    inc = incentive.copy()
    burned = 0.0
    if p.owner_incentive_burn and owner_hk >= 0:
        m = hotkeys == owner_hk
        burned = float(inc[m].sum())
        inc[m] = 0.0
    credit_owner_stake(state, hotkeys, netuid, inc)
    state.alpha_unowned[netuid] += burned
    d.incentive_paid, d.incentive_burned = float(inc.sum()), burned
    # alpha dividends: the take to the hotkey's owner, the rest to the pool (nominators pro rata)
    take = state.hotkey_take[recv]
    alpha_take, alpha_net = alpha_paid * take, alpha_paid * (1.0 - take)
    credit_owner_stake(state, recv, netuid, alpha_take)
    increase_stake_for_hotkey_on_subnet(state, recv, netuid, alpha_net)
    state._alpha_dividends_per_subnet[:, netuid] = 0.0
    state._alpha_dividends_per_subnet[recv, netuid] = alpha_net  # recorded net of take, as on chain
    state._hotkey_alpha_last_epoch[recv, netuid] = state.hotkey_alpha[recv, netuid]
    # TAO dividends, the same on root
    tao_take, tao_net = tao_paid * take, tao_paid * (1.0 - take)
    credit_owner_stake(state, recv, ROOT, tao_take)
    increase_stake_for_hotkey_on_subnet(state, recv, ROOT, tao_net)
    state._tao_dividends_per_subnet[:, netuid] = 0.0
    state._tao_dividends_per_subnet[recv, netuid] = tao_net
    tao_total = float(tao_paid.sum())
    if p.root_divs_to_subnet_tao:
        state.tao_reserve[ROOT] += tao_total
    else:
        state.root_divs_off_ledger += tao_total
    d.alpha_dividends_paid = float(alpha_paid.sum())
    d.tao_dividends_paid = tao_total
    # whatever the epoch could not place stays minted in SubnetAlphaOut but held by no one
    # (signed: negative if the chain credits more stake than it minted, which its separate ledgers allow)
    state.alpha_unowned[netuid] += d.pending_alpha - d.incentive_paid - d.incentive_burned - d.alpha_dividends_paid
    state.tao_unowned += d.pending_tao - d.tao_dividends_paid
