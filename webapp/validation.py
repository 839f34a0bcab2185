"""Input refused by a service, naming the form field at fault so the page can show it there."""


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
