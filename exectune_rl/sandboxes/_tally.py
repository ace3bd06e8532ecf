"""The one rule for counting test cases, shared by the judge and the in-process harness.

The judge (``_judge.Counts``) imports this module; the in-process harness puts its text, as
is, before the tests it appends to a program (``runner._PY_PRELUDE``), so the two verdict paths
count alike. It uses no imports and no global names, so it runs the same in both places.

A case is an ``assert`` *site* (a place in the tests' source), counted once however often it
runs and passed only if every run of it passed, so an assert in a loop over what the program
returned gives the program no say in how many cases there are. A case without a site (a
pytest-style test, one per parametrized case) counts each run; an assert site failing while
a test runs fails that test too. A run cut short (the program
left, hung or ran out of time in the middle of it) has not passed, whatever earlier runs of
the same site did.
"""


class CaseTally:
    """Cases seen and passed, by assert site."""

    __slots__ = ("passed", "seen", "sites", "depth", "planned")

    def __init__(self) -> None:
        self.passed = 0
        self.seen = 0
        self.sites = {}  # assert site -> passed every run so far
        # site-less cases (tests) running now: an assert site that fails inside one also
        # fails that test, as Python's assert would (a test made by a factory whose counted
        # helper asserts never raised would pass however wrong the program)
        self.depth = 0
        # the tests' cases expanded before any ran, less those that skipped themselves: a run
        # cut short is graded against them all, never against the few it let run
        self.planned = 0

    def plan(self, n):
        self.planned += n

    def record(self, site, ok):
        """Count one finished run of a case; the case's number when that run is a failure to
        report (its first failing run), else None."""
        if site is None or site not in self.sites:
            self.seen += 1
            if ok:
                self.passed += 1
            if site is not None:
                self.sites[site] = ok
            return None if ok else self.seen
        if self.sites[site] and not ok:  # an assert that passed before fails on a later run
            self.sites[site] = False
            self.passed -= 1
            return self.seen
        return None

    def cut_short(self, site):
        """A run of the assert at ``site`` that never finished: that assert has not passed."""
        if site is None:
            return
        if site not in self.sites:
            self.seen += 1
        elif self.sites[site]:
            self.passed -= 1
        self.sites[site] = False
