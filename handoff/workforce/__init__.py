"""Workforce planning (#16): forecast contacts per 30-minute interval, staff each interval with
Erlang C (pyworkforce), build the week's shifts with the fewest agent-hours (pyworkforce's
scheduling on OR-Tools), and let agents swap shifts and ask for time off.

Modules: :mod:`.model` (the shared types), :mod:`.calendar` and :mod:`.shifts` (the YAML data),
:mod:`.forecast`, :mod:`.staffing`, :mod:`.scheduling` (pure functions), :mod:`.service` (the
database side: plans, shifts, swaps, time off), :mod:`.api` (``/api/desk/workforce/...``),
:mod:`.cli` (``abonent workforce ...``).
"""
