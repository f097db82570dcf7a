"""Hooks of the schemathesis runs of scripts/check-api.sh."""

import schemathesis

# Integral floats up to here convert to the same integer exactly.
_EXACT = 2**53


def _integral_floats_as_ints(value):
    """`554.0` becomes `554`, in any depth of the body.

    JSON Schema counts `554.0` as an integer, so the generator sends it for integer
    fields; our server (serde) reads integers only from integer literals, as every
    client we know of writes them. The runs test the API, not this spelling.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT:
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    if isinstance(case.body, (dict, list, float)):
        case.body = _integral_floats_as_ints(case.body)
