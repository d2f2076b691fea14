"""An HTTP (or, with --tls CERT KEY, HTTPS) server on 127.0.0.1 for the network tests.

Prints its port on the first line of stdout, then serves until killed. Every request line it
answers is appended to --log (one per line), so a test can tell which requests reached it.

Routes:
  /health                 200, {"status": "ok"}
  /hello                  200, Hello, World!
  /redirect?to=URL        302 to URL
  /bytes?n=N              200, N bytes of "x"
  /status?code=N          N, "status N"
  /slow?s=N               200 after N seconds
  /echo...                200, the request's path and query as received, and its Host header
"""

import argparse
import http.server
import ssl
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None

    def log_message(self, format, *args):
        pass

    def answer(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if Handler.log_path:
            with open(Handler.log_path, "a") as log:
                log.write(self.path + "\n")
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/health":
            self.answer(200, '{"status": "ok"}', [("Content-Type", "application/json")])
        elif url.path == "/hello":
            self.answer(200, "Hello, World!")
        elif url.path == "/redirect":
            self.answer(302, "", [("Location", query["to"][0])])
        elif url.path == "/bytes":
            self.answer(200, b"x" * int(query["n"][0]))
        elif url.path == "/status":
            code = int(query["code"][0])
            self.answer(code, f"status {code}")
        elif url.path == "/slow":
            time.sleep(float(query["s"][0]))
            self.answer(200, "slow")
        elif url.path.startswith("/echo"):
            self.answer(200, f"{self.path} host={self.headers.get('Host')}")
        else:
            self.answer(404, "not found")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--log")
    args = parser.parse_args()
    Handler.log_path = args.log
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
