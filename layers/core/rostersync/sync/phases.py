"""A sync is a list of phases; full, delta and preview runs are different lists of the same ones.

Each phase (a Phase, sync/run_state.py) maps to a unit: a function of the run's context
(sync/context.py) that reads or writes a stream of pages, may pause (the checkpoint saves where
it is), and returns what it decided: None to go on to the next phase, or the deactivations it
held for an admin (the run stops as needs_review). Where each phase's unit lives:

  phase              unit                                   full  delta  preview
  schools            full_read.read_schools                  x     x      x
  courses            full_read.read_courses                  x     x      x
  terms              terms.TermPhases.read                   x     x      x
  classes            full_read.read_classes                  x            x
  pair_classes       rekeys.Rekeys.pair("class")             x            x
  users              user_pass.read_users                    x            x
  pair_users         rekeys.Rekeys.pair("user")              x            x
  enrollments        full_read.read_enrollments              x            x
  class_titles       class_titles.ClassTitles.decide         x            x
  write_users        user_pass.write_users                   x            x
  delta_classes      delta.DeltaPhases.classes                     x
  delta_users        delta.DeltaPhases.users                       x
  delta_enrollments  delta.DeltaPhases.enrollments                 x
  write_terms        terms.TermPhases.write                  x     x      x
  sweep              deactivation.sweep                      x            x
  delta_finish       delta.DeltaPhases.finish                      x

A preview is a full run whose store writes no roster item (sync/review.py). The engine
(sync/engine.py) runs a mode's list from the state's phase on; nothing is deactivated before
the last phase, when every read is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rostersync.sync import deactivation, full_read, user_pass
from rostersync.sync.context import RunContext
from rostersync.sync.delta import DeltaPhases
from rostersync.sync.run_state import Held, Mode, Phase

PhaseUnit = Callable[[RunContext], Held | None]


def _terms_read(ctx: RunContext) -> None:
    ctx.terms.read()


def _terms_write(ctx: RunContext) -> None:
    ctx.terms.write()


def _pair_classes(ctx: RunContext) -> None:
    ctx.rekeys.pair("class")  # the whole collection is read: the old sourcedIds that are gone


def _pair_users(ctx: RunContext) -> None:
    ctx.rekeys.pair("user")  # the whole collection is read: the old sourcedIds that are gone


def _class_titles(ctx: RunContext) -> None:
    ctx.class_titles.decide()  # set-aside classes, now that their teachers are known


def _delta_classes(ctx: RunContext) -> None:
    DeltaPhases(ctx).classes()


def _delta_users(ctx: RunContext) -> None:
    DeltaPhases(ctx).users()


def _delta_enrollments(ctx: RunContext) -> None:
    DeltaPhases(ctx).enrollments()


def _delta_finish(ctx: RunContext) -> Held | None:
    return DeltaPhases(ctx).finish()


UNITS: Mapping[Phase, PhaseUnit] = {
    Phase.SCHOOLS: full_read.read_schools,
    Phase.COURSES: full_read.read_courses,
    Phase.TERMS: _terms_read,
    Phase.CLASSES: full_read.read_classes,
    Phase.PAIR_CLASSES: _pair_classes,
    Phase.USERS: user_pass.read_users,
    Phase.PAIR_USERS: _pair_users,
    Phase.ENROLLMENTS: full_read.read_enrollments,
    Phase.CLASS_TITLES: _class_titles,
    Phase.WRITE_USERS: user_pass.write_users,
    Phase.WRITE_TERMS: _terms_write,
    Phase.SWEEP: deactivation.sweep,
    Phase.DELTA_CLASSES: _delta_classes,
    Phase.DELTA_USERS: _delta_users,
    Phase.DELTA_ENROLLMENTS: _delta_enrollments,
    Phase.DELTA_FINISH: _delta_finish,
}

FULL: tuple[Phase, ...] = (
    Phase.SCHOOLS,
    Phase.COURSES,
    Phase.TERMS,
    Phase.CLASSES,
    Phase.PAIR_CLASSES,
    Phase.USERS,
    Phase.PAIR_USERS,
    Phase.ENROLLMENTS,
    Phase.CLASS_TITLES,
    Phase.WRITE_USERS,
    Phase.WRITE_TERMS,
    Phase.SWEEP,
)
# A delta reads only what changed since the last successful sync (sync/delta.py); academic
# sessions are read whole in both (sync/terms.py).
DELTA: tuple[Phase, ...] = (
    Phase.SCHOOLS,
    Phase.COURSES,
    Phase.TERMS,
    Phase.DELTA_CLASSES,
    Phase.DELTA_USERS,
    Phase.DELTA_ENROLLMENTS,
    Phase.WRITE_TERMS,
    Phase.DELTA_FINISH,
)
PLANS: Mapping[Mode, tuple[Phase, ...]] = {Mode.FULL: FULL, Mode.DELTA: DELTA, Mode.PREVIEW: FULL}

# Where an approved run goes on: its mode's deactivation step.
APPLY_HELD: Mapping[Mode, Phase] = {Mode.FULL: Phase.SWEEP, Mode.PREVIEW: Phase.SWEEP, Mode.DELTA: Phase.DELTA_FINISH}


def unit(phase: Phase) -> PhaseUnit:
    return UNITS[phase]


def next_phase(mode: Mode, phase: Phase) -> Phase:
    """The phase after `phase` in the mode's list; DONE after the last."""
    plan = PLANS[mode]
    position = plan.index(phase) + 1
    return plan[position] if position < len(plan) else Phase.DONE
