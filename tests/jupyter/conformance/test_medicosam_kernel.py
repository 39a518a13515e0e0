"""Jupyter's kernel conformance suite (jupyter_kernel_test) run against the MedicoSAM kernel.

Started by tests/jupyter/conformance.test.ts with JUPYTER_PATH pointing at a kernelspec that
`medicosam install --prefix` wrote, so the kernel is found and started the way Jupyter does it.
"""
import os
import time
import unittest

import jupyter_kernel_test
from jupyter_kernel_test.msgspec_v5 import validate_message

API = os.environ["MEDICOSAM_JUPYTER_API"]


class MedicoSAMKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "medicosam"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        {"text": "const zqxAlpha = 1;\nzqxAl", "matches": {"zqxAlpha"}},
        {"text": "Math.fl", "matches": {"floor"}},
    ]

    complete_code_samples = ["1 + 1", "const a = 1;", "function f() {\n  return 1;\n}"]
    incomplete_code_samples = ["function f() {", "const xs = [1,"]

    code_generate_error = 'throw new Error("expected failure")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"med" + "ico"', "result": "'medico'"},
        {"code": '({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<b>sam</b>" }) })', "mime": "text/html", "result": "<b>sam</b>"},
    ]

    code_display_data = [
        {"code": f'import {{ display }} from "{API}";\ndisplay({{ "text/html": "<i>overlay</i>" }});', "mime": "text/html"},
        {"code": f'import {{ display }} from "{API}";\ndisplay({{ "image/png": new Uint8Array([137, 80, 78, 71]) }});', "mime": "image/png"},
    ]

    code_inspect_sample = "Math.max"

    code_clear_output = f'import {{ clearOutput }} from "{API}";\nclearOutput();'

    def test_zz_interrupt_by_signal(self):
        """jupyter_client interrupts with SIGINT (interrupt_mode "signal")."""
        self.flush_channels()
        msg_id = self.kc.execute("await new Promise((resolve) => setTimeout(resolve, 60_000));")
        time.sleep(1.0)
        self.km.interrupt_kernel()
        reply = self.get_non_kernel_info_reply(timeout=15)
        validate_message(reply, "execute_reply", msg_id)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")

    def test_zzz_restart(self):
        """A restart through jupyter_client gives a fresh kernel on the same connection."""
        self.flush_channels()
        reply, _ = self.execute_helper("(globalThis as any).beforeRestart = 1;")
        self.assertEqual(reply["content"]["status"], "ok")
        old_pid = self.km.provisioner.process.pid
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=60)
        self.assertNotEqual(self.km.provisioner.process.pid, old_pid)
        self.flush_channels()
        reply, output = self.execute_helper("typeof (globalThis as any).beforeRestart")
        self.assertEqual(reply["content"]["status"], "ok")
        results = [m for m in output if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "'undefined'")


if __name__ == "__main__":
    unittest.main()
