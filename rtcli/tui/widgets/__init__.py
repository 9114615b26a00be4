"""The monitor's widgets; each knows how to draw part of the model, none holds the model."""
