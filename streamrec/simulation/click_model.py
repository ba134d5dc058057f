"""How simulated users respond to a list: a cascade click model on their latent taste.

Each simulated user is drawn as the generator draws its users (model_registry.synthetic),
so a model trained on the generated log has learned the same kind of people. A user's
utility for an item is what the generator's users choose by: ``popularity_weight x
log-popularity + affinity``, standardized over the items released so far, and an item's
attractiveness is ``sigmoid(SLOPE x z + OFFSET)``: about 3% for an average item, 38% two
standard deviations up, 73% three up.

Shown a list, the user reads it top down (the cascade model of Craswell et al., 2008):
at each item it clicks with the item's attractiveness and stops; otherwise it reads on with
probability ``patience``. Position bias is the product of the patience before an item
(a user who reads on at 0.85 sees the tenth item 23% of the time), not a fixed table. After
a click the user buys with ``purchase_share x attractiveness``. A user who clicks nothing
browses on its own: its next item is drawn from its own utilities (softmax), as the
generator's sessions are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.model_registry.synthetic import LatentWorld

SLOPE, OFFSET = 1.5, -3.5


@dataclass
class Response:
    clicked: int | None
    """Position clicked (0-based), or None."""
    item_id: str | None
    purchased: bool


class ClickModel:
    def __init__(
        self,
        world: LatentWorld,
        n_users: int,
        seed: int,
        patience: float = 0.85,
        purchase_share: float = 0.3,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.item_ids = world.item_ids
        self.index = {item: n for n, item in enumerate(world.item_ids)}
        released = np.isfinite(world.logpop)
        utility = world.config.popularity_weight * np.where(released, world.logpop, 0.0)
        utility = utility + world.sample_tastes(n_users, self.rng)
        mean = utility[:, released].mean(axis=1, keepdims=True)
        std = utility[:, released].std(axis=1, keepdims=True) + 1e-9
        z = np.where(released, (utility - mean) / std, -np.inf)
        self.attractiveness = 1.0 / (1.0 + np.exp(-(SLOPE * z + OFFSET)))
        self.browse = np.exp(
            np.where(released, utility - utility.max(axis=1, keepdims=True), -np.inf)
        )
        self.browse /= self.browse.sum(axis=1, keepdims=True)
        self.patience, self.purchase_share = patience, purchase_share

    @property
    def n_users(self) -> int:
        return len(self.attractiveness)

    def attraction(self, user: int, item_id: str) -> float:
        """An item the world does not know (a new item) is average: z = 0."""
        row = self.index.get(item_id)
        if row is None:
            return float(1.0 / (1.0 + np.exp(-OFFSET)))
        return float(self.attractiveness[user, row])

    def respond(self, user: int, shown: Sequence[str]) -> Response:
        for position, item_id in enumerate(shown):
            attraction = self.attraction(user, item_id)
            if self.rng.random() < attraction:
                bought = self.rng.random() < self.purchase_share * attraction
                return Response(position, item_id, bool(bought))
            if self.rng.random() >= self.patience:
                break
        return Response(None, None, False)

    def browse_next(self, user: int) -> str:
        """An item the user turns to on its own."""
        return self.item_ids[int(self.rng.choice(len(self.item_ids), p=self.browse[user]))]

    def expected_ctr(self, user: int, shown: Sequence[str]) -> float:
        """The probability of a click on ``shown`` (for checks and offline comparisons)."""
        reach, total = 1.0, 0.0
        for item_id in shown:
            attraction = self.attraction(user, item_id)
            total += reach * attraction
            reach *= (1.0 - attraction) * self.patience
        return total
