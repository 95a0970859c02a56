# SPDX-License-Identifier: Apache-2.0
"""Each real web server, started in front of tokengate and the CGI script
with the configuration from contrib/, and stopped again."""
import os
import shutil

import harness

APACHE_MODULES = "/usr/lib/apache2/modules"


def require(binary):
    path = shutil.which(binary) or os.path.join("/usr/sbin", binary)
    assert os.access(path, os.X_OK), "%s is not installed (scripts/install-deps.sh)" % binary
    return path


class Server:
    """A running web server (and the tokengate it talks to, if separate)."""
    # How each server reports tokengate's 403: mod_fcgid turns it into 401.
    forbidden_status = 403
    # nginx's auth_request forwards WWW-Authenticate only with a 401.
    forbidden_challenge = True

    def __init__(self, name, directory):
        self.name = name
        self.directory = directory
        self.port = harness.free_port()
        self.processes = []

    def start(self, args, log_name, **kwargs):
        process = harness.Process(args, os.path.join(self.directory, log_name), **kwargs)
        self.processes.append(process)
        return process

    def logs(self):
        text = ""
        for process in self.processes:
            text += "==== %s\n%s\n" % (process.log_path, process.output())
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".log") and not any(p.log_path.endswith(name) for p in self.processes):
                with open(os.path.join(self.directory, name), errors="replace") as log:
                    text += "==== %s\n%s\n" % (name, log.read())
        return text

    def stop(self):
        for process in reversed(self.processes):
            process.stop()


def tokengate(server, world, listen, ready, **options):
    config = world.config(server.name + ".conf", listen=listen, **options)
    process = server.start([harness.TOKENGATE, "-c", config], "tokengate.log")
    harness.wait_for(ready, "tokengate on " + listen)
    return process


def lighttpd(world, directory, spawn=False, **options):
    server = Server("lighttpd-spawn" if spawn else "lighttpd", directory)
    socket_path = os.path.join(directory, "tokengate.sock")
    replacements = {"/srv/www": world.docroot}
    if spawn:
        config = world.config("lighttpd-spawn.conf", **options)
        replacements.update({"/usr/sbin/tokengate": harness.TOKENGATE,
                             "/etc/tokengate/tokengate.conf": config,
                             "/run/lighttpd/tokengate.sock": socket_path})
        snippet = harness.contrib("lighttpd/tokengate-spawn.conf", replacements)
    else:
        tokengate(server, world, socket_path, lambda: os.path.exists(socket_path), **options)
        replacements["/run/tokengate/tokengate.sock"] = socket_path
        snippet = harness.contrib("lighttpd/tokengate.conf", replacements)
    conf = os.path.join(directory, "lighttpd.conf")
    with open(conf, "w") as out:
        out.write('server.document-root = "%s"\nserver.port = %d\nserver.bind = "127.0.0.1"\n'
                  'server.errorlog = "%s/error.log"\n%s\n'
                  % (world.docroot, server.port, directory, snippet))
    server.start([require("lighttpd"), "-D", "-f", conf], "lighttpd.out.log")
    harness.wait_for(lambda: harness.port_open(server.port), "lighttpd")
    return server


def apache_skeleton(directory, port, docroot, modules, body):
    conf = os.path.join(directory, "httpd.conf")
    loads = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, APACHE_MODULES, m)
                    for m in modules)
    with open(conf, "w") as out:
        out.write("ServerRoot %s\nPidFile %s/httpd.pid\nListen 127.0.0.1:%d\n"
                  "ServerName localhost\n%s"
                  "TypesConfig /etc/mime.types\n"
                  "User nobody\nGroup nogroup\n"
                  "ErrorLog %s/error.log\nLogLevel warn\n"
                  "DocumentRoot %s\n"
                  "%s\n" % (directory, directory, port, loads, directory, docroot, body))
    return conf


def apache(world, directory, fcgid=False, open_paths=False, **options):
    server = Server("apache-fcgid" if fcgid else
                    "apache-authnz-open" if open_paths else "apache-authnz", directory)
    modules = ["mpm_prefork", "authn_core", "authz_core", "mime", "cgi"]
    replacements = {"/srv/www": world.docroot}
    if fcgid:
        server.forbidden_status = 401
        modules.append("fcgid")
        config = world.config("apache-fcgid.conf", **options)
        ipc = os.path.join(directory, "fcgid")
        os.makedirs(ipc, mode=0o777)
        os.chmod(ipc, 0o777)
        replacements.update({"/usr/sbin/tokengate": harness.TOKENGATE,
                             "/etc/tokengate/tokengate.conf": config})
        body = ("FcgidIPCDir %s\nFcgidProcessTableFile %s/fcgid_shm\n" % (ipc, directory) +
                harness.contrib("apache2/tokengate-fcgid.conf", replacements))
    else:
        modules.append("authnz_fcgi")
        tokengate_port = harness.free_port()
        tokengate(server, world, "127.0.0.1:%d" % tokengate_port,
                  lambda: harness.port_open(tokengate_port), **options)
        replacements["127.0.0.1:9000"] = "127.0.0.1:%d" % tokengate_port
        body = harness.contrib("apache2/tokengate-authnz-fcgi-open.conf" if open_paths
                               else "apache2/tokengate-authnz-fcgi.conf", replacements)
    conf = apache_skeleton(directory, server.port, world.docroot, modules, body)
    server.start([require("apache2"), "-f", conf, "-DFOREGROUND"], "apache.out.log",
                 env=dict(os.environ, APACHE_RUN_DIR=directory, APACHE_LOCK_DIR=directory,
                          APACHE_LOG_DIR=directory))
    harness.wait_for(lambda: harness.port_open(server.port), "apache")
    return server


def nginx(world, directory, **options):
    server = Server("nginx", directory)
    server.forbidden_challenge = False
    tokengate_port = harness.free_port()
    tokengate(server, world, "127.0.0.1:%d" % tokengate_port,
              lambda: harness.port_open(tokengate_port), **options)
    fcgiwrap_socket = os.path.join(directory, "fcgiwrap.sock")
    server.start([require("fcgiwrap"), "-s", "unix:" + fcgiwrap_socket], "fcgiwrap.log")
    harness.wait_for(lambda: os.path.exists(fcgiwrap_socket), "fcgiwrap")
    os.chmod(fcgiwrap_socket, 0o666)
    snippet = harness.contrib("nginx/tokengate.conf", {
        "127.0.0.1:9000": "127.0.0.1:%d" % tokengate_port,
        "listen 127.0.0.1:8080": "listen 127.0.0.1:%d" % server.port,
        "/srv/www": world.docroot,
        "/run/fcgiwrap.socket": fcgiwrap_socket,
    })
    temp = os.path.join(directory, "temp")
    os.makedirs(temp)
    conf = os.path.join(directory, "nginx.conf")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as out:
        out.write("%spid %s/nginx.pid;\nerror_log %s/error.log warn;\nevents {}\nhttp {\n"
                  "access_log off;\nclient_body_temp_path %s/body;\n"
                  "fastcgi_temp_path %s/fastcgi;\nproxy_temp_path %s/proxy;\n"
                  "uwsgi_temp_path %s/uwsgi;\nscgi_temp_path %s/scgi;\n%s\n}\n"
                  % (user, directory, directory, temp, temp, temp, temp, temp, snippet))
    server.start([require("nginx"), "-p", directory, "-c", conf, "-g", "daemon off;"],
                 "nginx.out.log")
    harness.wait_for(lambda: harness.port_open(server.port), "nginx")
    return server


def start(name, world, directory, **options):
    """Starts server NAME, its tokengate configured with OPTIONS (see
    World.config); on failure, the logs go into the error."""
    try:
        return STARTERS[name](world, directory, **options)
    except Exception as error:
        text = ""
        for log in sorted(os.listdir(directory)):
            if log.endswith(".log"):
                with open(os.path.join(directory, log), errors="replace") as handle:
                    text += "==== %s\n%s" % (log, handle.read()[-3000:])
        raise RuntimeError("%s did not start: %s\n%s" % (name, error, text)) from error


STARTERS = {
    "lighttpd": lambda world, d, **o: lighttpd(world, d, **o),
    "lighttpd-spawn": lambda world, d, **o: lighttpd(world, d, spawn=True, **o),
    "apache-authnz-fcgi": lambda world, d, **o: apache(world, d, **o),
    "apache-authnz-fcgi-open": lambda world, d, **o: apache(world, d, open_paths=True, **o),
    "apache-fcgid": lambda world, d, **o: apache(world, d, fcgid=True, **o),
    "nginx": nginx,
}
