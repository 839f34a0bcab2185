"""Live mail: mailboxes read over IMAP (and, with them, the credentials used for SMTP). No Flask
here: the settings page, the CLI and the scheduler's jobs call it alike."""
