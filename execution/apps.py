from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = "Execution"

    def ready(self) -> None:
        from execution.live.hooks import connect_signals  # models are loaded only now
        from execution.live.streaming import observe_streams
        from execution.protection.watcher import TradeWatcher

        connect_signals()  # live dashboard pushes: operations, accounts, safety events, kicks
        observe_streams(TradeWatcher)  # position protection follows every account's stream
