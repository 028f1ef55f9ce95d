"""Signals: between the analysts and the trading engine.

Requests are built and checked (``requests``), analysed, stored and announced as ``SignalCreated``
(``service``), queried and given feedback (``queries``), scored against what the market did next
(``outcomes``, ``scoring``) and summed up as accuracy and calibration (``performance``); the
periodic analysis (``periodic``) asks for a fresh signal of every tracked symbol on its clock.
"""
