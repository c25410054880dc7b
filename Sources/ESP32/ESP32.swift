// The ESP32 SoC model (memory map, peripherals, the two cores). Built out in the SoC issue.
import XtensaCore
