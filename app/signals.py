"""The named events blueprints tell each other about, and the questions they ask each other.

A blueprint that must not import another (the one-way table in docs/architecture.md) sends a
signal; the blueprints that care connect their receivers to it in `create_app`, through each
blueprint's `RECEIVERS`: [(signal, function), …]. Receivers run at once, in the sender's
transaction, so what they write commits or rolls back with the event. Nothing is connected
by importing a module.

Questions are signals whose receivers return their part of the answer (`ask` gathers them);
events are signals whose receivers only act (`tell`).
"""

from blinker import Namespace

_signals = Namespace()

# --- questions: each receiver returns its part ------------------------------------------

# accounting asks: kwargs task_ids; each receiver returns {task id: (Jira ID, title, public id)}.
task_labels_wanted = _signals.signal("task-labels-wanted")
# accounting asks (`accounting verify`): each receiver returns its checks of its own records,
# functions that return a list of problems (at most accounting's PROBLEMS_PER_CHECK + 1).
book_checks_wanted = _signals.signal("book-checks-wanted")
# accounting asks: kwargs popug_ids; each receiver returns {popug id: locale or None}.
recipient_locales_wanted = _signals.signal("recipient-locales-wanted")
# auth asks, once (it builds the statement that loads the signed-in popug on every request):
# kwargs popug_id_column; each receiver returns {name: a scalar subquery of the popug in that
# column}, loaded in the same statement and kept on the popug as `loaded_extras`.
signed_in_extras_wanted = _signals.signal("signed-in-extras-wanted")
# auth asks (an admin's popug page): kwargs popug_id; each receiver returns {label: number}.
popug_facts_wanted = _signals.signal("popug-facts-wanted")

# accounting asks (sending the outbox): kwargs messages, [(outbox id, topic, ref)] of the
# pending messages whose text the blueprint that queued them writes when they are sent;
# each receiver returns {outbox id: (subject, body)} for the topics it owns.
mail_texts_wanted = _signals.signal("mail-texts-wanted")

# auth asks (the confirmation of a deactivation): kwargs popug_id; each receiver returns
# (how many open tasks would be handed over, the fees that would be charged, in cents).
handover_wanted = _signals.signal("handover-wanted")

# --- events -------------------------------------------------------------------------------

# auth tells, after the change is flushed: kwargs popug_id; a popug can no longer take tasks
# (deactivated, or given a role tasks do not land on). Each receiver returns how many of
# their open tasks it moved to others, or raises ServiceError to refuse the change.
popug_stopped_taking_tasks = _signals.signal("popug-stopped-taking-tasks")

# The events below are told in the event's own transaction, after its changes are flushed;
# their receivers only write (notifications), so a rolled-back event leaves nothing behind.

# tasks tells: a task was created and assigned. kwargs task_id, creator_id, assignee_id,
# fee (cents, charged to the assignee).
task_created = _signals.signal("task-created")
# tasks tells: a shuffle is done and charged. kwargs shuffle_id (its fee entries and lines
# are in the ledger).
shuffle_done = _signals.signal("shuffle-done")
# tasks tells: a popug's open tasks were handed over to others. kwargs from_popug_id,
# received: [(popug id, tasks, fees in cents)], one item per receiving popug.
tasks_handed_over = _signals.signal("tasks-handed-over")
# accounting tells: a business day was closed and paid out. kwargs day (its payouts are
# written).
day_closed = _signals.signal("day-closed")
# auth tells: a popug's role was changed. kwargs popug_id, actor_id (None: the command
# line), before, after.
role_changed = _signals.signal("role-changed")
# auth tells: an admin changed a popug's sign-in details. kwargs popug_id, actor_id, fields
# (what changed: a tuple of "email" and/or "beak_shape"), previous_email (the old address
# when the e-mail changed, else None). Never the beak shape itself.
credentials_changed = _signals.signal("credentials-changed")


def ask(signal, **kwargs) -> list:
    """The answers of every receiver of `signal`, in the order they were connected."""
    return [answer for _receiver, answer in signal.send(None, **kwargs)]


def tell(signal, **kwargs) -> None:
    signal.send(None, **kwargs)


def connect(receivers) -> None:
    """Connect a blueprint's RECEIVERS (done once per receiver, however many apps)."""
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False)
