"""The routes of the three-route comparison, their titles, and the tolerances that decide agreement."""

ROUTES = ("derived", "hand_written", "finite_differences", "entrywise")
ROUTE_TITLES = {"derived": "derived", "hand_written": "hand-written",
                "finite_differences": "finite differences", "entrywise": "entrywise"}
ANALYTIC_ROUTES = ("derived", "hand_written", "entrywise")

# Two analytic routes compute the same sums of the same products in another order, with other
# (each stable) closed forms for sigma, sigma' and the log-losses. Their difference is rounding:
# about L n eps times the size of the terms, n = max(m, widths) <= a few hundred, eps = 2.2e-16,
# so ~1e-13 relative at worst; measured: at most 2.3e-15 of the parameter's largest entry over 148
# random small nets (median 0), ~1e-15 at 64-128-10 with m = 256. An entry agrees when
#   |a - b| <= ANALYTIC_TOLERANCE * (max(|a|, |b|) + largest |entry| of the parameter) + ANALYTIC_FLOOR,
# the second term covering entries that cancel to near 0 from terms the size of the largest entry.
# It is relative to the parameter's own scale, so that a sign flip in a gradient of size 1e-12 is
# still caught. 1e-9 is ~10^4 above the rounding and ~10^8 below a wrong formula (a missing
# transpose, a sign, f'(a) for f'(z) are wrong by factors of order 1).
ANALYTIC_TOLERANCE = 1e-9
# Below the smallest normal float64 (2.2e-308) products lose their significant digits, and at
# |z| ~ 700 factors of e^-700 ~ 1e-304 make such products; two routes that underflow at different
# steps then differ there. Entries below 1e-290 (a factor 1e18 above the underflow) are equal.
ANALYTIC_FLOOR = 1e-290

# Finite differences against an analytic route: checks.routes.finite_differences' tolerances (1e-7
# absolute, 1e-5 relative per entry, reasoned there from float64 and its step), whose absolute part
# assumes |J| up to COST_SCALE_COVERED; its rounding error eps |J| / h grows with |J|, so the
# absolute tolerance is scaled by max(1, |J| / COST_SCALE_COVERED).
COST_SCALE_COVERED = 1e3
