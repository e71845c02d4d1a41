"""Collection routes: nearest neighbour from the depot, then 2-opt, on great-circle
distances.

Small enough to read, good enough for a daily round of a few hundred bins: nearest
neighbour gives a tour within about 25 % of the best, 2-opt removes every crossing and
usually brings it within about 5 %.  Distances are haversine kilometres between
(lat, lon) points, so the length is what a crow would fly; street routing belongs to a
real router.
"""

from __future__ import annotations

from .._common import haversine_km


def distance_matrix(points):
    n = len(points)
    d = [[0.0] * n for _ in range(n)]
    for i in range(n):
        lat1, lon1 = points[i]
        row = d[i]
        for j in range(i + 1, n):
            row[j] = d[j][i] = haversine_km(lat1, lon1, *points[j])
    return d


def tour_length(order, d, closed=True):
    """Length of visiting ``order`` (indices into ``d``), back to the start if closed."""
    total = sum(d[a][b] for a, b in zip(order, order[1:], strict=False))
    if closed and len(order) > 1:
        total += d[order[-1]][order[0]]
    return total


def nearest_neighbour(d, start=0):
    """Visit the closest unvisited point next; ties go to the lower index."""
    n = len(d)
    order = [start]
    left = set(range(n)) - {start}
    while left:
        here = d[order[-1]]
        nxt = min(left, key=lambda j: (here[j], j))
        order.append(nxt)
        left.remove(nxt)
    return order


def two_opt(order, d, closed=True):
    """Reverse segments while that shortens the tour; the start stays first.

    First improvement, repeated until no reversal helps by more than a micrometre.
    """
    order = list(order)
    n = len(order)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            a, b = order[i - 1], order[i]
            dab = d[a][b]
            for j in range(i + 1, n):
                c = order[j]
                if j + 1 < n:
                    e = order[j + 1]
                elif closed:
                    e = order[0]
                else:
                    e = None
                if e is None:
                    # Open path: the reversed segment's end becomes the last stop.
                    gain = dab - d[a][c]
                else:
                    gain = dab + d[c][e] - d[a][c] - d[b][e]
                if gain > 1e-9:
                    order[i:j + 1] = reversed(order[i:j + 1])
                    improved = True
                    b = order[i]
                    dab = d[a][b]
    return order


def plan_route(depot, stops, closed=True):
    """Order ``stops`` ({id: (lat, lon)}) into a round from ``depot`` (lat, lon).

    Returns (ids in visiting order, length in km).
    """
    ids = sorted(stops)
    if not ids:
        return [], 0.0
    points = [tuple(depot)] + [tuple(stops[i]) for i in ids]
    d = distance_matrix(points)
    order = two_opt(nearest_neighbour(d), d, closed)
    return [ids[k - 1] for k in order[1:]], tour_length(order, d, closed)
