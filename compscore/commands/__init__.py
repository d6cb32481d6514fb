"""One module per `compscore` subcommand: `add_arguments(parser)` and `run(args) -> int`."""
