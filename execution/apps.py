from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = "Execution"

    def ready(self) -> None:
        from execution.live.hooks import connect_signals  # models are loaded only now

        connect_signals()  # live dashboard pushes: operations, accounts, safety events, kicks
