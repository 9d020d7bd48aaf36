"""Reading tapes back: Trace objects, DataFrames and renderings."""
