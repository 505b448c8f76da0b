"""Print how long the hub takes to learn host speeds, and how close it lands.

20,000 finished buildArch tasks (the most the hub reads) of 6,000 packages
(log-normal work) on 300 hosts with true speeds between 0.5 and 3; each build
takes work / speed within 10 %. Every host claims its true speed except one in
ten, which claims three times too much. Prints the median time of several fits
and the learned speeds' error against the truth.
"""

from __future__ import annotations

import random
import statistics
import time

from discomy.placement import trust
from discomy.placement.config import TrustConfig


def main() -> None:
    rng = random.Random(1)
    true = {h: rng.uniform(0.5, 3.0) for h in range(300)}
    claimed = {h: s * (3 if h % 10 == 0 else 1) for h, s in true.items()}
    packages = [(f"p{i}", rng.lognormvariate(8, 1.2)) for i in range(6000)]
    samples = []
    for _ in range(20000):
        name, work = rng.choice(packages)
        h = rng.randrange(300)
        samples.append(trust.BuildSample(h, name, "x86_64", work / true[h] * rng.uniform(0.9, 1.1)))
    config = TrustConfig(learn_min_build_s=0)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        learned = trust.learn_speeds(samples, claimed, {}, config)
        times.append(time.perf_counter() - started)
    errors = sorted(abs(learned[h].speed / true[h] - 1) for h in learned)
    print(f"{len(samples)} builds, {len(learned)} of {len(true)} hosts learned in "
          f"{statistics.median(times):.2f} s (median of 5); error against the true speed: "
          f"median {statistics.median(errors):.1%}, max {errors[-1]:.1%}")


if __name__ == "__main__":
    main()
