"""derive(spec): the delta rule of a network, found from its entrywise chain rule and proved.

Row form (seed 000): delta(L) = dJ/dyhat (.) f'(z(L)); delta(l) = (delta(l+1) W(l)^T) (.) f'(z(l));
dJ/dW(l) = a(l)^T delta(l+1). Column form: delta(l) = (W(l)^T delta(l+1)) (.) f'(z(l)) and
dJ/dW(l) = delta(l+1) a(l)^T. None of these is written here: each is the candidate that equals
the chain rule entry by entry (derive.backward.matrix_form).
"""

from __future__ import annotations

import dataclasses
import random
from functools import lru_cache
from dataclasses import dataclass

import sympy as sp

from derive.backward import chain_rule
from derive.network.activations import activation as activation_entry
from derive.backward.matrix_form import Candidate, MatrixForm, find_matrix_form, product_candidates
from derive.backward.matrix_ops import EntrywiseMap, apply_entrywise, is_zero
from derive.network.symbols import MatrixQuantity, SymbolicNetwork, symbolic_network
from derive.network.spec import NetworkSpec
from derive.program.program import program_of

# Up to this many entries a step's chain rule is computed at every entry; above it at a fixed
# sample (corners, edges, seeded random entries) and the randomized exact proof covers the rest.
FULL_COMPARISON_LIMIT = 1024
SAMPLE_SIZE = 48
# ... and while the entries' chain-rule terms number at most this: a softmax output delta sums K
# terms per entry, so 100 classes at m0 = 3 (30,000 terms, 15 s) take the sample too
FULL_WORK_LIMIT = 4096


@dataclass(frozen=True)
class Step:
    """One step of the derivation: a quantity, its chain-rule entries and its matrix form."""

    name: str  # "delta2", "dJ_da2", "dJ_dW1", "dJ_db1", "dJ_dyhat"
    kind: str  # output_gradient, output_delta, activation_gradient, hidden_delta, weight_gradient,
    #            bias_gradient
    layer: int
    shape: tuple[int, int]
    entries: tuple[tuple[tuple[int, int], sp.Expr], ...]
    form: MatrixForm
    note: str = ""

    @property
    def formula(self) -> sp.MatrixExpr:
        return self.form.expression

    @property
    def entry_map(self) -> dict[tuple[int, int], sp.Expr]:
        return dict(self.entries)

    @property
    def rejected(self) -> tuple[Candidate, ...]:
        return self.form.rejected


@dataclass(frozen=True)
class SimplifiedDelta:
    """The output delta after f' is written in yhat (sigma' = yhat (1 - yhat)) and simplified."""

    formula: sp.MatrixExpr
    condition: str  # an assumption the simplification uses, e.g. "sum_k y[n, k] = 1", or ""


@dataclass(frozen=True)
class Derivation:
    """Everything derive(spec) found; proofs are attached by derive.prove."""

    spec: NetworkSpec
    steps: tuple[Step, ...]
    gradients: tuple[tuple[str, sp.MatrixExpr], ...]  # parameter name -> dJ/d(parameter)
    simplified_output_delta: SimplifiedDelta | None
    proofs: tuple = ()  # derive.proofs.result.Proof, attached by derive.api.derive
    index_arguments: tuple = ()  # derive.proofs.index_level.IndexArgument, size-independent

    @property
    def proved(self) -> bool:
        """True when proofs were run and every one holds."""
        return bool(self.proofs) and all(proof.holds for proof in self.proofs)

    def _repr_markdown_(self) -> str:  # Jupyter shows the derivation as math
        from derive.writeup.summary import derivation_summary_markdown

        return derivation_summary_markdown(self)

    @property
    def network(self) -> SymbolicNetwork:
        return symbolic_network(self.spec)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r}; steps: {', '.join(s.name for s in self.steps)}")

    def gradient(self, parameter: str) -> sp.MatrixExpr:
        return dict(self.gradients)[parameter]

    def deltas(self) -> tuple[tuple[str, sp.MatrixExpr], ...]:
        """(delta name, formula) from the output layer down: each refers only to later ones."""
        return tuple((s.name, s.formula) for s in self.steps if s.kind in ("output_delta", "hidden_delta"))


def compared_positions(shape: tuple[int, int], terms_per_entry: int = 1) -> list[tuple[int, int]]:
    """Every entry of a small matrix; corners, first row and column and a seeded sample otherwise.

    terms_per_entry: how many chain-rule terms each entry sums (a K-way softmax's output delta sums
    K), so that the limit is on the work, not on the count of entries.
    """
    rows, columns = int(shape[0]), int(shape[1])  # SymPy integers from a MatrixSymbol's shape too
    if rows * columns <= FULL_COMPARISON_LIMIT and rows * columns * terms_per_entry <= FULL_WORK_LIMIT:
        return [(i, j) for i in range(rows) for j in range(columns)]
    chosen = {(0, 0), (0, columns - 1), (rows - 1, 0), (rows - 1, columns - 1)}
    chosen.update((0, j) for j in range(min(columns, 8)))
    chosen.update((i, 0) for i in range(min(rows, 8)))
    generator = random.Random(rows * 100003 + columns)  # fixed per shape: output is deterministic
    while len(chosen) < SAMPLE_SIZE:
        chosen.add((generator.randrange(rows), generator.randrange(columns)))
    return sorted(chosen)


def _entrywise_template(entries: dict[tuple[int, int], sp.Expr], matrices: list[MatrixQuantity],
                        constraint: dict | None = None):
    """The scalar g with entries[p] = g(M1[p], M2[p], ...) at every entry, or None.

    g is read off the first entry and checked at every other; a constraint (softmax targets
    summing to 1) is applied to both sides of each check.
    """
    placeholders = [sp.Symbol(f"u{index}") for index in range(len(matrices))]
    template = None
    for position, value in sorted(entries.items()):
        own = {matrix.entry(*position): placeholder for matrix, placeholder in zip(matrices, placeholders)}
        if template is None:
            first = sp.expand(value.xreplace(constraint)) if constraint else value
            template = first.xreplace(own)
            if template.free_symbols - set(placeholders):
                return None
            continue
        expected = template.xreplace({u: matrix.entry(*position) for u, matrix in zip(placeholders, matrices)})
        difference = expected - value
        if not is_zero(difference.xreplace(constraint) if constraint else difference):
            return None
    return sp.Lambda(tuple(placeholders), template)


def _matrix_of_template(template: sp.Lambda, matrices: list[sp.MatrixExpr]) -> sp.MatrixExpr:
    """g(M1, M2) as MatAdd when g is linear (yhat - y), as an EntrywiseMap otherwise."""
    body = sp.expand(template.expr)
    variables = template.variables
    if body.is_polynomial(*variables) and sp.Poly(body, *variables).total_degree() <= 1 \
            and body.subs({v: 0 for v in variables}) == 0:
        # keep a common factor outside: (1/m)(Yhat - Y), not (1/m)Yhat - (1/m)Y
        content, primitive = body.as_content_primitive()
        total = sp.MatAdd(*[primitive.coeff(v) * m for v, m in zip(variables, matrices)
                            if primitive.coeff(v) != 0]).doit()
        return total if content == 1 else sp.MatMul(content, total)
    return EntrywiseMap(template, *matrices)


def _template_step(name: str, kind: str, layer: int, network: SymbolicNetwork,
                   entries: dict, matrices: list[MatrixQuantity], note: str = "",
                   constraint: dict | None = None) -> Step:
    template = _entrywise_template(entries, matrices, constraint)
    shape = matrices[0].shape
    if template is None:
        raise RuntimeError(f"{name}: the chain rule is not one scalar formula at every entry")
    expression = _matrix_of_template(template, [m.symbol for m in matrices])
    form = MatrixForm(expression, (Candidate(expression, str(expression), True,
                                             f"the same scalar formula at all {len(entries)} entries"),),
                      len(entries), shape[0] * shape[1])
    return Step(name, kind, layer, shape, tuple(sorted(entries.items())), form, note)


def _entries(memo: dict, step_name: str, positions: list, chain_rule_entry) -> dict[tuple[int, int], sp.Expr]:
    """The chain rule at each of `positions`, computed once per derivation of a spec.

    The entries do not depend on which matrix forms were found, so the second pass that a size-1
    ambiguity needs (see derive_rule) reuses the first pass's entries and only searches again.
    """
    if step_name not in memo:
        memo[step_name] = {p: chain_rule_entry(p) for p in positions}
    return memo[step_name]


def _search_step(name: str, kind: str, layer: int, shape, entries: dict, candidates: list,
                 note: str = "", general: dict | None = None, memo: dict | None = None) -> Step:
    # the comparisons are kept beside the entries: the second pass re-tries the same candidates
    known = None if memo is None else memo.setdefault(("compared", name), {})
    form = find_matrix_form(entries, shape, candidates, (general or {}).get(name), known)
    return Step(name, kind, layer, shape, tuple(sorted(entries.items())), form, note)


def _derivative_matrix(network: SymbolicNetwork, layer: int) -> sp.MatrixExpr:
    """f'(z(layer)) entry by entry."""
    prime = activation_entry(network.spec.activation(layer)).opaque_prime
    return apply_entrywise(prime, network.pre_activation(layer).symbol)


def _output_steps(network: SymbolicNetwork, general: dict | None, memo: dict) -> list[Step]:
    layer = network.output_layer
    output, targets, delta = network.output, network.targets, network.delta(layer)
    softmax = network.spec.output_activation == "softmax"
    positions = compared_positions(delta.shape, network.units(layer) if softmax else 1)
    if softmax:
        entries = _entries(memo, delta.name, positions, lambda p: chain_rule.output_delta(network, p))
        # Softmax with cross-entropy collapses to yhat - y only when each example's targets sum to
        # 1; the constraint eliminates the last target of each example to use exactly that.
        return [_template_step(delta.name, "output_delta", layer, network, entries, [output, targets],
                               note="uses sum_k y[n, k] = 1 (each example's targets sum to one)",
                               constraint=target_sum_constraint(network))]
    gradient_entries = _entries(memo, "dJ_dyhat", positions, lambda p: chain_rule.output_gradient(network, p))
    gradient = _template_step("dJ_dyhat", "output_gradient", layer, network, gradient_entries, [output, targets])
    delta_entries = _entries(memo, delta.name, positions, lambda p: gradient_entries[p] *
                             chain_rule.activation_derivative(network, layer, p))
    candidates = product_candidates(gradient.formula, _derivative_matrix(network, layer), delta.shape)
    return [gradient, _search_step(delta.name, "output_delta", layer, delta.shape, delta_entries, candidates,
                                   general=general, memo=memo)]


def target_sum_constraint(network: SymbolicNetwork) -> dict[sp.Symbol, sp.Expr]:
    """Each example's last target as 1 minus the others: sum_k y[n, k] = 1, softmax's condition."""
    targets, units = network.targets, network.units(network.output_layer)
    replacement = {}
    for example in range(network.spec.m):
        others = [targets.entry(*network.position(example, k)) for k in range(units - 1)]
        replacement[targets.entry(*network.position(example, units - 1))] = 1 - sp.Add(*others)
    return replacement


def _simplified_output_delta(network: SymbolicNetwork, delta_step: Step) -> SimplifiedDelta | None:
    """delta(L) with f' written in yhat, when that makes it shorter (sigmoid + cross-entropy)."""
    if delta_step.note:
        return SimplifiedDelta(delta_step.formula, delta_step.note)
    entry = activation_entry(network.spec.output_activation)
    if entry.derivative_from_output is None:
        return None
    layer = network.output_layer
    output = network.output

    def rewritten(position, value):
        prime = chain_rule.activation_derivative(network, layer, position)
        return sp.cancel(value.xreplace({prime: entry.derivative_from_output(output.entry(*position))}))

    # the formula is read off the first entry: when that is already no shorter than the product
    # it came from (sigmoid with half-SSE), the other entries need not be rewritten at all
    (first, first_value), *_ = delta_step.entries
    first_template = _entrywise_template({first: rewritten(first, first_value)}, [output, network.targets])
    if first_template is None or sp.count_ops(first_template.expr) > 4:
        return None
    template = _entrywise_template({p: rewritten(p, v) for p, v in delta_step.entries}, [output, network.targets])
    if template is None:
        return None
    return SimplifiedDelta(_matrix_of_template(template, [output.symbol, network.targets.symbol]), "")


def _hidden_steps(network: SymbolicNetwork, general: dict | None, memo: dict,
                  wanted: frozenset[str] | None = None) -> list[Step]:
    steps = []
    for layer in range(network.output_layer - 1, 1, -1):
        if not _any_wanted(wanted, f"dJ_da{layer}", network.delta(layer).name):
            continue
        activations, delta = network.activation(layer), network.delta(layer)
        positions = compared_positions(delta.shape)
        gradient_entries = _entries(memo, f"dJ_da{layer}", positions,
                                    lambda p: chain_rule.activation_gradient(network, layer, p))
        weights = _weights_without_bias(network, layer)
        candidates = product_candidates(network.delta(layer + 1).symbol, weights, activations.shape)
        note = "the bias unit's weights are dropped: the constant 1 does not depend on z" \
            if network.has_bias_unit else ""
        gradient = _search_step(f"dJ_da{layer}", "activation_gradient", layer, activations.shape,
                                gradient_entries, candidates, note, general, memo)
        delta_entries = _entries(memo, delta.name, positions,
                                 lambda p: chain_rule.hidden_delta(network, layer, p, gradient_entries[p]))
        candidates = product_candidates(gradient.formula, _derivative_matrix(network, layer), delta.shape)
        steps += [gradient, _search_step(delta.name, "hidden_delta", layer, delta.shape, delta_entries,
                                         candidates, general=general, memo=memo)]
    return steps


def _weights_without_bias(network: SymbolicNetwork, layer: int) -> sp.MatrixExpr:
    weights = network.weights(layer).symbol
    if not network.has_bias_unit:
        return weights
    return weights[1:, :] if network.is_row else weights[:, 1:]


def extended_activation(network: SymbolicNetwork, layer: int) -> sp.MatrixExpr:
    """a(layer), with Ng's column (row form) or row (column form) of ones in front for the bias unit."""
    return program_of(network.spec).dense(layer).extended_input(network)


def _regularization_candidates(network: SymbolicNetwork, layer: int) -> list:
    """lambda c W, and W with its bias row (column) zeroed: the chain rule picks one."""
    weights = network.weights(layer)
    factor = network.regularization_factor * 2  # d/dw of factor * w^2
    found = [(f"{factor} {weights.name}", factor * weights.symbol, "")]
    if network.has_bias_unit:
        rows, columns = weights.shape
        if network.is_row:
            zeroed = sp.BlockMatrix([[sp.ZeroMatrix(1, columns)], [weights.symbol[1:, :]]])
        else:
            zeroed = sp.BlockMatrix([[sp.ZeroMatrix(rows, 1), weights.symbol[:, 1:]]])
        found.append((f"{factor} {weights.name} without its bias weights", factor * zeroed, ""))
    return found


def _parameter_steps(network: SymbolicNetwork, general: dict | None, memo: dict,
                     wanted: frozenset[str] | None = None) -> tuple[list[Step], list]:
    steps, gradients = [], []
    for layer in range(network.output_layer - 1, 0, -1):
        if not _any_wanted(wanted, f"dJ_dW{layer}", f"dR_dW{layer}", f"dJ_db{layer}"):
            continue
        weights, delta = network.weights(layer), network.delta(layer + 1)
        if _any_wanted(wanted, f"dJ_dW{layer}", f"dR_dW{layer}"):
            positions = compared_positions(weights.shape)
            data_entries = _entries(memo, f"dJ_dW{layer}", positions,
                                    lambda p: chain_rule.parameter_gradient(network, layer, weights, p))
            candidates = product_candidates(extended_activation(network, layer), delta.symbol, weights.shape)
            weight_step = _search_step(f"dJ_dW{layer}", "weight_gradient", layer, weights.shape, data_entries,
                                       candidates, general=general, memo=memo)
            steps.append(weight_step)
            formula = weight_step.formula
            if network.regularization_factor != 0:
                penalty = _entries(memo, f"dR_dW{layer}", positions,
                                   lambda p: chain_rule.regularization_gradient(network, weights.entry(*p)))
                penalty_step = _search_step(f"dR_dW{layer}", "regularization_gradient", layer, weights.shape,
                                            penalty, _regularization_candidates(network, layer), general=general,
                                            memo=memo)
                steps.append(penalty_step)
                formula = sp.MatAdd(formula, penalty_step.formula)
            gradients.append((weights.name, formula))
        biases = network.biases(layer)
        if biases is not None and _any_wanted(wanted, f"dJ_db{layer}"):
            bias_positions = compared_positions(biases.shape)
            entries = _entries(memo, f"dJ_db{layer}", bias_positions,
                               lambda p: chain_rule.parameter_gradient(network, layer, biases, p))
            ones = sp.OneMatrix(network.spec.m, 1)
            bias_step = _search_step(f"dJ_db{layer}", "bias_gradient", layer, biases.shape, entries,
                                     product_candidates(ones, delta.symbol, biases.shape), general=general,
                                     memo=memo)
            steps.append(bias_step)
            gradients.append((biases.name, bias_step.formula))
    order = {q.name: index for index, q in enumerate(network.parameters())}
    return steps, sorted(gradients, key=lambda pair: order[pair[0]])


def widened(spec: NetworkSpec) -> NetworkSpec:
    """The same net with every size of 1 (and m = 1) replaced by the smallest unused size >= 2."""
    used = set(spec.sizes) | {spec.m}
    fresh = (n for n in range(2, 10 ** 6) if n not in used)
    sizes = tuple(next(fresh) if size == 1 else size for size in spec.sizes)
    m = next(fresh) if spec.m == 1 else spec.m
    return dataclasses.replace(spec, sizes=sizes, m=m)


@lru_cache(maxsize=64)
def derivation_of(spec: NetworkSpec) -> Derivation:
    """derive_rule(spec), kept: one derivation per spec for every reader in a run.

    `backprop derive` derives, proves, checks by the derived route and writes; each of these
    reads this one Derivation (a derivation takes from ~0.1 s at 2-3-1 to seconds at 64-128-10).
    """
    return derive_rule(spec)


def derive_rule(spec: NetworkSpec) -> Derivation:
    """The delta rule of `spec`, each matrix form found from the chain rule (no proof attached).

    When a size is 1, a product that is wrong in general can equal the chain rule (delta W for a
    1 x 1 W); when a step finds more than one match, the rule is also derived for the widened
    net, and its forms decide.
    """
    memo: dict = {}
    rule = _derive(spec, None, memo)
    ambiguous = frozenset(step.name for step in rule.steps if step.form.ambiguous)
    if not ambiguous:
        return rule
    twin = widened(spec)
    twin_memo: dict = {}
    # Only the ambiguous steps need the twin's verdict: a step with one match at these sizes has
    # the twin's form there too, since the general form holds at every size. At 784-100-10 with
    # m = 1 only the two bias gradients are ambiguous, and the whole twin cost more than the net.
    rule = _derive(spec, _general_forms(twin, twin_memo, ambiguous), memo)
    if any(step.form.ambiguous for step in rule.steps):  # a form the twin changed made a later
        rule = _derive(spec, _general_forms(twin, twin_memo, None), memo)  # step ambiguous
    return rule


def _general_forms(twin: NetworkSpec, memo: dict, wanted: frozenset[str] | None) -> dict:
    """(position, label, where) of the form the twin finds, for each wanted step (every step for None)."""
    where = f"the widened net {twin.slug} with m = {twin.m}"
    return {step.name: (len(step.form.candidates) - 1, step.form.candidates[-1].label, where)
            for step in _derive(twin, None, memo, wanted).steps}


def _derive(spec: NetworkSpec, general: dict | None, memo: dict,
            wanted: frozenset[str] | None = None) -> Derivation:
    """Every step, or (for the twin) only the `wanted` steps and those they are built from."""
    network = symbolic_network(spec)
    output_steps = _output_steps(network, general, memo) if _any_wanted(wanted, "dJ_dyhat", network.delta(
        network.output_layer).name) else []
    hidden_steps = _hidden_steps(network, general, memo, wanted)
    parameter_steps, gradients = _parameter_steps(network, general, memo, wanted)
    simplified = _simplified_output_delta(network, output_steps[-1]) if output_steps else None
    return Derivation(spec, tuple(output_steps + hidden_steps + parameter_steps), tuple(gradients), simplified)


def _any_wanted(wanted: frozenset[str] | None, *names: str) -> bool:
    return wanted is None or any(name in wanted for name in names)
