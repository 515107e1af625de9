"""The payout history's e-mails: each closed day links to its e-mails, each in its state
(sent, logged and not sent, waiting, failed), and "Send again" re-queues a failed one
through the outbox, which still sends it once."""

from app.blueprints.accounting import mail
from tests.accounting.helpers import freeze, outbox, row_with


def _send_again_buttons(html: str) -> int:
    return html.count(">Send again</button>")


def test_waiting_then_logged_and_the_history_links_the_day(paid_day, accountant_client):
    page = accountant_client.get("/accounting/payouts/2026-03-02").get_data(as_text=True)
    assert "waiting" in row_with(page, "kesha") and _send_again_buttons(page) == 0
    history = accountant_client.get("/accounting/payouts").get_data(as_text=True)
    assert 'href="/accounting/payouts/2026-03-02#payouts-table"' in history
    assert "2 waiting" in history

    mail.send_pending()
    page = accountant_client.get("/accounting/payouts/2026-03-02").get_data(as_text=True)
    assert "logged, not sent" in row_with(page, "kesha")
    assert "logged, not sent" in accountant_client.get("/accounting/payouts").get_data(True)


def test_send_again_requeues_a_failed_email_and_it_is_sent_once(paid_day, accountant_client, smtp):
    report = mail.send_pending()
    assert report.failed == 2
    page = accountant_client.get("/accounting/payouts/2026-03-02").get_data(as_text=True)
    assert "failed" in row_with(page, "kesha") and _send_again_buttons(page) == 2
    assert "2 failed" in accountant_client.get("/accounting/payouts").get_data(as_text=True)

    smtp.start()
    kesha_mail = next(m for m in outbox() if m.recipient.startswith("kesha"))
    response = accountant_client.post(f"/accounting/outbox/{kesha_mail.id}/send-again")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/accounting/payouts/2026-03-02")
    # Sent at once, with whatever else is due; gosha's is still in its backoff.
    assert smtp.inbox.recipients() == ["kesha@uberpopug.inc"]
    states = {m.recipient: (m.status, m.attempts) for m in outbox()}
    assert states["kesha@uberpopug.inc"] == ("sent", 2)
    assert states["gosha@uberpopug.inc"] == ("pending", 1)
    page = accountant_client.get("/accounting/payouts/2026-03-02").get_data(as_text=True)
    assert "sent" in row_with(page, "kesha") and _send_again_buttons(page) == 1

    # Pressed again on the sent one: nothing is queued, nothing is sent twice.
    again = accountant_client.post(
        f"/accounting/outbox/{kesha_mail.id}/send-again", follow_redirects=True
    )
    assert "is not failed" in again.get_data(as_text=True)
    mail.send_pending()
    assert smtp.inbox.recipients() == ["kesha@uberpopug.inc"]


def test_send_again_leaves_a_message_a_sender_holds(paid_day, smtp):
    mail.send_pending()
    freeze("2026-03-02 23:05")  # both failed and due again
    claim = mail._claim(1)  # a sender holds the first (its claim cleared the error)
    held = claim.messages[0].id
    other = next(m.id for m in outbox() if m.id != held)
    assert mail.send_again(held) is False, "a held message is the sender's to send"
    assert mail.send_again(other) is True


def test_send_again_of_an_unknown_email_is_404(accountant_client):
    assert accountant_client.post("/accounting/outbox/999/send-again").status_code == 404
