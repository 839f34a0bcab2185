"""`python -m webapp.emulator`: the same command as `flask --app wsgi salesforce-emulator`."""

from .cli import salesforce_emulator

if __name__ == "__main__":
    salesforce_emulator(prog_name="python -m webapp.emulator")
