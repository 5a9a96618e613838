"""Summarise a py-spy raw profile (collapsed stacks): where the time goes, self and inclusive.

python bench/bench.py pairs --servers tcpchat --profile /tmp/pairs.txt
python bench/profile_top.py /tmp/pairs.txt
"""

import sys
from collections import Counter


def main(path: str, rows: int = 25) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            samples = int(count)
            total += samples
            frames = stack.split(";")
            own[frames[-1]] += samples
            for frame in set(frames):
                inclusive[frame] += samples
    print(f"{total} samples")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"\n{title}:")
        for frame, samples in counter.most_common(rows):
            print(f"{samples / total * 100:5.1f}%  {frame[:140]}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
