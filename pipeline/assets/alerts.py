"""The operators hear of a failed Dagster run by e-mail (`VISITAS_OPERATORS_EMAIL`)."""

import dagster as dg


def _innermost(error: object) -> str:
    """The error a step raised, not Dagster's wrapper around it ("Error occurred while
    executing op …"): the innermost cause's message."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    return str(getattr(error, "message", error)).strip()


@dg.run_failure_sensor(
    name="run_failure_mail",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Avisa por correo a los operadores (VISITAS_OPERATORS_EMAIL) cuando falla una "
                "ejecución: trabajo, ejecución, paso y error.",
)
def run_failure_mail(context: dg.RunFailureSensorContext) -> None:
    from pipeline.notifications.operators import notify_run_failure
    from pipeline.settings import Settings

    run = context.dagster_run
    failures = context.get_step_failure_events()
    steps = [e.step_key or "" for e in failures]
    errors = [f"{e.step_key}: {_innermost(e.step_failure_data.error)}" for e in failures
              if e.step_failure_data.error is not None]
    # a run can fail before any step (launch, resources): then the run's own message says why
    error = "\n\n".join(errors) or (context.failure_event.message or "")
    for line in notify_run_failure(Settings.from_env(), job=run.job_name, run_id=run.run_id,
                                   steps=steps, error=error):
        (context.log.warning if "aviso:" in line else context.log.info)(line)
