#!/usr/bin/env python3
"""A `cvc5 --lang smt` command line over cvc5's own Python bindings.

The cvc5 project publishes its solver on PyPI as a Python package
(`pip install cvc5==1.3.1`), which carries libcvc5 but no executable.
civic-vault's floor proof (cedar-policy-symcc) talks to an interactive
SMT-LIB solver process on stdin/stdout, so this script is that process:
it reads SMT-LIB commands, hands each complete command to cvc5's own
parser, invokes it on one solver and prints what cvc5 prints. `.ci/cvc5`
runs it with the Python that `.ci/solver-setup` prepared (a virtual
environment under target/, the system Python untouched).
"""
import sys

import cvc5


def commands(stream):
    """Yields each complete top-level S-expression of the input."""
    buf, depth, in_string, in_symbol, in_comment = [], 0, False, False, False
    while True:
        chunk = stream.readline()
        if not chunk:
            return
        for ch in chunk:
            if in_comment:
                if ch == "\n":
                    in_comment = False
                continue
            buf.append(ch)
            if in_string:
                if ch == '"':
                    in_string = False  # "" inside a string reopens it below
                continue
            if in_symbol:
                if ch == "|":
                    in_symbol = False
                continue
            if ch == '"':
                in_string = True
            elif ch == "|":
                in_symbol = True
            elif ch == ";":
                buf.pop()
                in_comment = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    yield "".join(buf)
                    buf = []


def main():
    solver = cvc5.Solver()
    args = sys.argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--lang":
            i += 2
            continue
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            solver.setOption(name, value)
        i += 1
    symbols = cvc5.SymbolManager(solver.getTermManager())
    parser = cvc5.InputParser(solver, symbols)
    parser.setIncrementalStringInput(cvc5.InputLanguage.SMT_LIB_2_6, "stdin")
    out = sys.stdout
    for text in commands(sys.stdin):
        try:
            parser.appendIncrementalStringInput(text)
            command = parser.nextCommand()
            if command.isNull():
                continue
            result = command.invoke(solver, symbols)
            if command.getCommandName() == "exit":
                return 0
        except Exception as error:  # cvc5 raises its own error types
            message = str(error).replace('"', "'").replace("\n", " ")
            out.write('(error "%s")\n' % message)
            out.flush()
            continue
        if result:
            out.write(result)
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
