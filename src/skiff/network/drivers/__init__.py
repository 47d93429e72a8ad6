"""Network drivers, one module each; they share only ``skiff.network.driverapi`` and never import each other."""
