"""Random small network specs for the property tests (hypothesis), kept in one place."""

from hypothesis import strategies as st

from derive.network.activations import ACTIVATION_TABLE
from derive.network.costs import COST_TABLE
from derive.network.spec import NetworkSpec

# Drawn from the tables, so a new activation or cost is exercised by every property test at once.
HIDDEN = tuple(name for name, entry in ACTIVATION_TABLE.items() if entry.is_elementwise)
# the output activations each cost accepts (softmax only under categorical cross-entropy)
OUTPUT_FOR_COST = {name: entry.outputs for name, entry in COST_TABLE.items()}
# The same for the numeric routes, which have no value for the generic f.
NUMERIC_HIDDEN = tuple(name for name in HIDDEN if not ACTIVATION_TABLE[name].is_generic)
NUMERIC_OUTPUT_COST = tuple((output, cost) for cost, outputs in OUTPUT_FOR_COST.items() for output in outputs
                            if not ACTIVATION_TABLE[output].is_generic)


@st.composite
def specs(draw, output_for_cost=OUTPUT_FOR_COST):
    """Depth 2 to 4 (depth 2 is a net with no hidden layer), widths 1 to 3, every option."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    cost = draw(st.sampled_from(sorted(output_for_cost)))
    output = draw(st.sampled_from(output_for_cost[cost]))
    if output == "softmax" and sizes[-1] < 2:
        sizes[-1] = 2
    hidden = tuple(draw(st.sampled_from(HIDDEN)) for _ in sizes[1:-1])
    return NetworkSpec(tuple(sizes), hidden + (output,), cost=cost,
                       reduction=draw(st.sampled_from(("sum", "mean"))),
                       bias=draw(st.sampled_from(("none", "vector", "unit"))),
                       convention=draw(st.sampled_from(("row", "column"))),
                       m=draw(st.integers(1, 3)), l2=draw(st.sampled_from((0.0, 0.5))))
