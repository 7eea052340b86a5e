"""A coroutine that blocks: the safe ARV201 fix applies here."""
import time


async def poll():
    time.sleep(1)
    return 1
