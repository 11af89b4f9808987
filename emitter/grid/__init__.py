"""Grid carbon intensity for the ``grid.intensity`` topic: the event (``events``), its Avro
codec (``codec``), readers that turn a CSV file or a public source's JSON into events
(``csv_source``, ``electricitymaps``, ``gb_carbon_intensity``, ``watttime``), a simulated
diurnal feed (``simulated``), the Kafka sender (``send``) and the command line (``cli``, run as
``joulestream grid``)."""

from joulestream.grid.events import GridIntensity as GridIntensity
