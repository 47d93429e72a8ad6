"""The ``skiff`` command line: docker's commands and output, over ``skiff.client``.

``main`` (entry, global flags, dispatch), ``command`` (Command, parser, Cli), ``commands/``
(one module per noun), ``exitcodes`` (THE error -> exit code map), ``formatting`` + ``gotemplate``
(--format and tables), ``units`` (sizes, durations, timestamps), ``progress`` (JSON progress).
"""
