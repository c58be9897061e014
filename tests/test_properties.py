"""Property tests: random sequences of blocks and extrinsics (valid and invalid) keep TAO and alpha
conserved, nothing negative or NaN, rejected calls change nothing, snapshots round-trip.

CI runs ``max_examples x stateful_step_count`` >= 2,000 random steps."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from dtao.chain import errors as E
from dtao.chain import staking as S
from dtao.chain.childkeys import set_children
from dtao.chain.coinbase import block_step
from dtao.chain.invariants import check_invariants
from dtao.chain.registration import burned_register, register_network, start_call
from dtao.chain.snapshot import from_dict, to_dict
from dtao.chain.weights import set_weights
from dtao.scenario.initial import synthetic

STEPS = {"extrinsics": 0, "blocks": 0}

amounts = st.one_of(
    st.floats(0.0, 500.0, allow_nan=False),
    st.sampled_from([0.0, 1e-7, 0.0005, float("nan"), float("inf"), -1.0, 1e12]),
)
fractions = st.floats(0.0, 1.2, allow_nan=False)


class ChainMachine(RuleBasedStateMachine):
    """The chain under random use by a handful of coldkeys."""

    @initialize(seed=st.integers(0, 2**16))
    def setup(self, seed):
        self.rng = np.random.default_rng(seed)
        self.state = synthetic(self.rng, n_subnets=3, n_uids=6, n_validators=3, root_tao=5000.0, pool_tao=50.0,
                               validator_alpha=200.0)
        self.users = [int(c) for c in self.state.new_coldkeys(np.full(4, 300.0))]
        self.user_hks = [int(self.state.new_hotkey(c)) for c in self.users]
        self.rejected = 0

    def _netuid(self, i: int) -> int:
        ids = [int(x) for x in self.state.netuids]
        return ids[i % len(ids)] if i >= 0 else 99

    def _hotkey(self, i: int) -> int:
        hks = list(self.state.neurons[1].hotkey) + self.user_hks
        return int(hks[i % len(hks)])

    def _call(self, fn, *args):
        STEPS["extrinsics"] += 1
        before = to_dict(self.state)
        try:
            fn(self.state, *args)
        except E.ChainError:
            self.rejected += 1
            assert to_dict(self.state) == before, f"rejected {fn.__name__}{args} changed the state"

    @rule(n=st.integers(1, 40))
    def blocks(self, n):
        STEPS["blocks"] += n
        for _ in range(n):
            block_step(self.state)

    @rule(u=st.integers(0, 3), h=st.integers(0, 20), n=st.integers(-1, 5), x=amounts)
    def add_stake(self, u, h, n, x):
        self._call(S.add_stake, self.users[u], self._hotkey(h), self._netuid(n), x)

    @rule(u=st.integers(0, 3), h=st.integers(0, 20), n=st.integers(0, 5), f=fractions, raw=st.booleans(), x=amounts)
    def remove_stake(self, u, h, n, f, raw, x):
        ck, hk, nu = self.users[u], self._hotkey(h), self._netuid(n)
        amt = x if raw else self.state.position_value(ck, hk, nu) * f
        self._call(S.remove_stake, ck, hk, nu, amt)

    @rule(u=st.integers(0, 3), h1=st.integers(0, 20), h2=st.integers(0, 20), n1=st.integers(0, 5),
          n2=st.integers(0, 5), f=fractions, kind=st.sampled_from(["move", "swap", "transfer"]), v=st.integers(0, 3))
    def move(self, u, h1, h2, n1, n2, f, kind, v):
        ck, hk1, hk2, o, d = self.users[u], self._hotkey(h1), self._hotkey(h2), self._netuid(n1), self._netuid(n2)
        amt = self.state.position_value(ck, hk1, o) * f
        if kind == "move":
            self._call(S.move_stake, ck, hk1, hk2, o, d, amt)
        elif kind == "swap":
            self._call(S.swap_stake, ck, hk1, o, d, amt)
        else:
            self._call(S.transfer_stake, ck, self.users[v], hk1, o, d, amt)

    @rule(u=st.integers(0, 3), h=st.integers(0, 20), n=st.integers(0, 5), x=amounts, p=st.floats(0.0, 2.0),
          partial=st.booleans(), add=st.booleans())
    def limit_order(self, u, h, n, x, p, partial, add):
        fn = S.add_stake_limit if add else S.remove_stake_limit
        self._call(fn, self.users[u], self._hotkey(h), self._netuid(n), x, p, partial)

    @rule(u=st.integers(0, 3), h=st.integers(0, 20))
    def unstake_all(self, u, h):
        self._call(S.unstake_all if h % 2 else S.unstake_all_alpha, self.users[u], self._hotkey(h))

    @rule(u=st.integers(0, 3))
    def register_subnet(self, u):
        self._call(register_network, self.users[u], self.user_hks[u])

    @rule(u=st.integers(0, 3), n=st.integers(0, 8))
    def start(self, u, n):
        self._call(start_call, self.users[u], self._netuid(n))

    @rule(u=st.integers(0, 3), n=st.integers(0, 8))
    def register_neuron(self, u, n):
        self._call(burned_register, self.users[u], self.user_hks[u], self._netuid(n))

    @rule(h=st.integers(0, 5), w=st.lists(st.floats(0, 1), min_size=6, max_size=6))
    def weights(self, h, w):
        hk = int(self.state.neurons[1].hotkey[h])
        self._call(set_weights, hk, 1, list(range(6)), w)

    @rule(u=st.integers(0, 3), q=st.floats(0.0, 1.2), c=st.integers(0, 20))
    def children(self, u, q, c):
        self._call(set_children, self.users[u], self.user_hks[u], 1, [(q, self._hotkey(c))])

    @invariant()
    def conserved(self):
        if hasattr(self, "state"):
            check_invariants(self.state)

    def teardown(self):
        if hasattr(self, "state"):
            d = to_dict(self.state)
            again = from_dict(d)
            assert to_dict(again) == d


def test_random_use_keeps_invariants():
    """At least 2,000 random extrinsic calls (valid and invalid) interleaved with blocks."""
    STEPS.update(extrinsics=0, blocks=0)
    # hypothesis decides how long each run is, so one batch of 30 examples sometimes stops a little
    # short of the floor (960 blocks was seen): run further batches until both floors are reached
    for _ in range(6):
        run_state_machine_as_test(ChainMachine, settings=settings(
            max_examples=30, stateful_step_count=100, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
        if STEPS["extrinsics"] >= 2000 and STEPS["blocks"] >= 1000:
            break
    assert STEPS["extrinsics"] >= 2000, STEPS
    assert STEPS["blocks"] >= 1000, STEPS
