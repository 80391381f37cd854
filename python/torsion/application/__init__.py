"""Twisted's application framework: services (``service``) and reactor-based ones (``internet``)."""
