"""Notifications by e-mail: administrators about their rejected batches and their promotion,
operators about failed Dagster runs.

`smtp` reads the mail settings and talks to the server (the standard library's `smtplib`);
`messages` writes the e-mails in Spanish; `outbox` keeps each one written before it is sent
and records it as sent, so nothing goes twice and nothing is lost while the server is down;
`administrators` and `operators` decide who is told what. Without `VISITAS_SMTP_URL` nothing
is sent and nothing fails.

The entry points: `administrators.notify_batches`, `administrators.notify_promotion`,
`operators.notify_run_failure`. (Not imported here: the settings check imports `smtp`, and must
not pull in ingestion.)
"""
