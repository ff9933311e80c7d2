"""Checking a state_dict against the key set and shapes a model defines."""


class StateDictError(Exception):
    """A state_dict that does not fit the model; the message names the key."""


def check_keys(state, expected, model, source="checkpoint"):
    """Raises StateDictError naming the first missing, unexpected or mis-shaped key.
    `expected` maps key → shape; `model` names the model in the message."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing:
        raise StateDictError(f"{source}: not {model}: missing key '{missing[0]}' ({len(missing)} missing)")
    if extra:
        raise StateDictError(f"{source}: not {model}: unexpected key '{extra[0]}' ({len(extra)} unexpected)")
    for key, shape in expected.items():
        if tuple(state[key].shape) != tuple(shape):
            raise StateDictError(f"{source}: key '{key}' has shape {tuple(state[key].shape)}, expected {tuple(shape)}")
