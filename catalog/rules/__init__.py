"""The rules of §3, one module per family. Each is a pure function over records and the
catalog known so far; `catalog.validate` runs them all in one pass and sorts what they find."""
