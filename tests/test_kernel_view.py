"""The compiled kernels' view of the neuron arrays follows every replaced array, and only then."""
from __future__ import annotations

import copy

import numpy as np

from dtao.bench.chain import bench_network
from numba import njit

from dtao.chain.state import _NK_NAMES, is_protected, kernel_view, neuron_arrays


@njit
def _through_views(ptrs, sizes, nu, lu_value):  # noqa: ANN001, ANN202
    """Read subnet ``nu``'s arrays through ``neuron_arrays`` and write ``lu_value`` into its first
    ``last_update`` (UID 0) through them; returns the arrays read."""
    t = neuron_arrays(ptrs, sizes, nu)
    if t[2].size:
        t[2][0] = lu_value
    return t


def _views_hold(view, nu: int, nr) -> bool:  # noqa: ANN001
    """Whether the raw views of subnet ``nu`` (``neuron_arrays``) are ``nr``'s arrays: equal values, and a
    write through them lands in ``nr.last_update``."""
    if view.sizes[nu] != nr.n:
        return False
    old = int(nr.last_update[0])
    got = _through_views(view.ptrs, view.sizes, nu, old + 17)
    ok = int(nr.last_update[0]) == old + 17
    nr.last_update[0] = old
    return ok and all(np.array_equal(g, np.asarray(getattr(nr, name))) for g, name in zip(got, _NK_NAMES))


def _holds(entry: tuple, nr) -> bool:  # noqa: ANN001
    """Whether a kernel-view entry holds ``nr``'s arrays: the same objects, or for the protected stored
    bonds (read-only to Python) a writable view of them."""
    for i, name in enumerate(_NK_NAMES):
        a = getattr(nr, name)
        if entry[i] is a:
            continue
        if name == "bonds" and is_protected(a) and entry[i].base is a and entry[i].flags.writeable:
            continue
        return False
    return True


def test_sync_neurons_follows_assigned_arrays_and_replaced_neurons() -> None:
    st = bench_network(3, 8, 2)
    nus = np.asarray(st.subnet_netuids, np.int64)
    view = kernel_view(st)
    view.sync_neurons(st, nus)
    nu = int(nus[0])
    lu = _NK_NAMES.index("last_update")
    before = view.neurons[nu]
    st.neurons[nu].last_update[0] = 12345  # in place: same arrays, nothing to refresh
    view.sync_neurons(st, nus)
    assert view.neurons[nu][lu] is before[lu] and view.neurons[nu][lu][0] == 12345
    new = np.arange(st.neurons[nu].n, dtype=np.int64)
    st.neurons[nu].last_update = new  # a field given a new array
    view.sync_neurons(st, nus)
    assert view.neurons[nu][lu] is new
    st.neurons[nu].last_update = [7] * st.neurons[nu].n  # a list: converted once and put back
    view.sync_neurons(st, nus)
    assert isinstance(st.neurons[nu].last_update, np.ndarray)
    assert view.neurons[nu][lu] is st.neurons[nu].last_update and view.neurons[nu][lu][0] == 7
    assert _views_hold(view, nu, st.neurons[nu])
    st.neurons[nu].append(999, st.block)  # registration grows every array
    view.sync_neurons(st, nus)
    assert _holds(view.neurons[nu], st.neurons[nu])
    assert _views_hold(view, nu, st.neurons[nu])  # the raw views follow the new (larger) arrays
    assert is_protected(st.neurons[nu].bonds) and not st.neurons[nu].bonds.flags.writeable
    other = int(nus[1])
    st.neurons[other] = copy.deepcopy(st.neurons[other])  # a new Neurons object with the same version
    view.sync_neurons(st, nus)
    assert _holds(view.neurons[other], st.neurons[other])
    assert _views_hold(view, other, st.neurons[other])
    st.neurons[other] = None  # a dissolved subnet: no arrays to view
    view.sync_neurons(st, nus)
    assert view.sizes[other] == 0 and not view.ptrs[other].any()


def test_sync_neurons_fast_path_skips_only_what_it_checked() -> None:
    """sync_neurons returns at once only when no Neurons had a field assigned, state.neurons holds the
    same objects and every asked-for entry was found current before."""
    st = bench_network(4, 8, 2)
    nus = np.asarray(st.subnet_netuids, np.int64)
    a, b, c = (int(x) for x in nus[:3])
    view = kernel_view(st)
    view.sync_neurons(st, [a])  # only a is checked
    hk = _NK_NAMES.index("hotkey")
    st.neurons[b].hotkey = st.neurons[b].hotkey.copy()
    view.sync_neurons(st, [a])
    view.sync_neurons(st, [a, b])  # b was never checked: it must be taken now
    assert view.neurons[b][hk] is st.neurons[b].hotkey
    st.neurons[b], st.neurons[c] = st.neurons[c], st.neurons[b]  # existing objects swapped: no new version
    view.sync_neurons(st, [a, b, c])
    assert view.neurons[b][hk] is st.neurons[b].hotkey and view.neurons[c][hk] is st.neurons[c].hotkey
    st.neurons[c].hotkey = st.neurons[c].hotkey.copy()  # assigned after a full sync
    view.sync_neurons(st, nus)
    assert all(view.neurons[int(nu)][hk] is st.neurons[int(nu)].hotkey for nu in nus)
