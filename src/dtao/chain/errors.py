"""Typed errors, named as the chain names them (``pallet_subtensor::Error``).

Every extrinsic that raises one of these leaves the chain state exactly as it was.
"""
from __future__ import annotations


class ChainError(Exception):
    """Base class of every error an extrinsic can return."""

    def __init__(self, message: str = "") -> None:
        super().__init__(f"{type(self).__name__}: {message}" if message else type(self).__name__)
        self.detail = message


class InvalidAmount(ChainError, ValueError):
    """An amount is NaN, infinite, negative or not a number (dtao's own input guard)."""


class SubnetNotExists(ChainError):
    """The netuid does not name an existing subnet."""


class HotKeyAccountNotExists(ChainError):
    """The hotkey is not registered anywhere on chain."""


class HotKeyNotRegisteredInSubNet(ChainError):
    """The hotkey has no UID on this subnet."""


class NonAssociatedColdKey(ChainError):
    """The coldkey does not own the hotkey."""


class NotEnoughBalance(ChainError):
    """The coldkey's free TAO balance cannot pay for the call."""


class NotEnoughBalanceToStake(NotEnoughBalance):
    """add_stake (or a lock) asks for more TAO than the coldkey's free balance (chain's name)."""


class NotEnoughStakeToWithdraw(ChainError):
    """The coldkey holds less stake on (hotkey, netuid) than requested."""


class AmountTooLow(ChainError):
    """The amount (or its TAO equivalent) is below ``DefaultMinStake`` plus fee."""


class InsufficientLiquidity(ChainError):
    """The swap would leave a pool reserve below ``DefaultMinimumPoolLiquidity``."""


class SlippageTooHigh(ChainError):
    """The limit price cannot be met and partial execution was not allowed."""


class TransferDisallowed(ChainError):
    """Stake transfer is disabled on the subnet."""


class NetworkTxRateLimitExceeded(ChainError):
    """register_network called before ``NetworkRateLimit`` blocks passed."""


class SubnetLimitReached(ChainError):
    """No free netuid and pruning of subnets is off."""


class HotKeyAlreadyRegisteredInSubNet(ChainError):
    """The hotkey already has a UID on this subnet."""


class NoNeuronIdAvailable(ChainError):
    """The subnet is full and no UID may be pruned (all immune)."""


class NotSubnetOwner(ChainError):
    """Only the subnet's owner coldkey may do this."""


class FirstEmissionBlockNumberAlreadySet(ChainError):
    """start_call was already made for this subnet."""


class NeedWaitingMoreBlocksToStarCall(ChainError):
    """start_call before ``DurationOfStartCall`` blocks since registration (chain's spelling)."""


class SubtokenDisabled(ChainError):
    """The subnet has not been started (no ``FirstEmissionBlockNumber``); staking is still allowed on launch-era chain, kept for later eras."""


class TooManyRegistrationsThisInterval(ChainError):
    """More than 3 x ``TargetRegistrationsPerInterval`` registrations this adjustment interval."""


class SubNetRegistrationDisabled(ChainError):
    """Neuron registration is disabled on the subnet."""


class TooManyChildren(ChainError):
    """More than 5 children."""


class TxRateLimitExceeded(ChainError):
    """A rate-limited call (e.g. set_children) came too soon."""


class WeightVecLengthIsLow(ChainError):
    """set_weights with an empty vector."""


class CanNotSetRootNetworkWeights(ChainError):
    """set_weights on netuid 0."""


class TooManyRegistrationsThisBlock(ChainError):
    """Registration rate limit for this block or interval reached."""


class WeightVecNotEqualSize(ChainError):
    """set_weights got uids and values of different lengths."""


class UidVecContainInvalidOne(ChainError):
    """set_weights named a UID that does not exist on the subnet."""


class NeuronNoValidatorPermit(ChainError):
    """set_weights on other UIDs by a neuron without a validator permit."""


class SettingWeightsTooFast(ChainError):
    """set_weights before ``WeightsSetRateLimit`` blocks passed."""


class InvalidChild(ChainError):
    """A childkey relation is invalid (self, proportions over 1, unknown key)."""


class DelegateTakeTooHigh(ChainError):
    """Requested take is above the maximum."""


class InvalidParameter(ChainError, ValueError):
    """A hyperparameter or option is out of its legal range."""
