"""The Python examples of the original memfs README, run as written (output captured and
checked), against this package."""

import concurrent.futures
import csv
import json

from memfs import create_fs


def test_basic_file_operations(capsys):
    fs = create_fs()
    fs.writefile("/hello.txt", "Hello, world!")
    content = fs.readfile("/hello.txt")
    print(content)  # Outputs: Hello, world!
    if fs.exists("/hello.txt"):
        print("File exists!")
    fs.makedirs("/path/to/directory")
    files = fs.listdir("/path/to")
    assert capsys.readouterr().out == "Hello, world!\nFile exists!\n"
    assert files == ["directory"]


def test_using_file_like_objects(capsys):
    fs = create_fs()
    with fs.open("/data.txt", "w") as f:
        f.write("Line 1\n")
        f.write("Line 2\n")
    with fs.open("/data.txt", "r") as f:
        for line in f:
            print(line.strip())
    assert capsys.readouterr().out == "Line 1\nLine 2\n"


def test_directory_operations(capsys):
    fs = create_fs()
    fs.makedirs("/a/b/c")
    for root, dirs, files in fs.walk("/"):
        print(f"Directory: {root}")
        print(f"Subdirectories: {dirs}")
        print(f"Files: {files}")
    assert capsys.readouterr().out == (
        "Directory: /\nSubdirectories: ['a']\nFiles: []\n"
        "Directory: /a\nSubdirectories: ['b']\nFiles: []\n"
        "Directory: /a/b\nSubdirectories: ['c']\nFiles: []\n"
        "Directory: /a/b/c\nSubdirectories: []\nFiles: []\n"
    )


def test_data_processing_pipeline():
    fs = create_fs()
    fs.makedirs("/data/raw", exist_ok=True)
    fs.makedirs("/data/processed", exist_ok=True)
    with fs.open("/data/raw/input.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([["id", "name", "value"], [1, "Alpha", 100], [2, "Beta", 200]])
    with fs.open("/data/raw/input.csv", "r", newline="") as f:
        reader = csv.DictReader(f)
        data = [row for row in reader]
    for item in data:
        item["value"] = int(item["value"])
        item["double_value"] = item["value"] * 2
    with fs.open("/data/processed/output.json", "w") as f:
        json.dump(data, f, indent=2)
    # csv wrote \r\n line ends through newline='' (as on a real file).
    assert (
        fs.readfilebytes("/data/raw/input.csv") == b"id,name,value\r\n1,Alpha,100\r\n2,Beta,200\r\n"
    )
    with fs.open("/data/processed/output.json") as f:
        assert json.load(f) == [
            {"id": "1", "name": "Alpha", "value": 100, "double_value": 200},
            {"id": "2", "name": "Beta", "value": 200, "double_value": 400},
        ]


def test_parallel_processing(capsys):
    fs = create_fs()
    fs.makedirs("/parallel/input", exist_ok=True)
    fs.makedirs("/parallel/output", exist_ok=True)
    for i in range(10):
        fs.writefile(f"/parallel/input/file_{i}.json", json.dumps({"id": i}))

    def process_file(filename):
        with fs.open(f"/parallel/input/{filename}", "r") as f:
            data = json.loads(f.read())
        data["processed"] = True
        with fs.open(f"/parallel/output/processed_{filename}", "w") as f:
            f.write(json.dumps(data, indent=2))
        return data["id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        futures = {executor.submit(process_file, f): f for f in fs.listdir("/parallel/input")}
        for future in concurrent.futures.as_completed(futures):
            file_id = future.result()
            print(f"Processed file ID: {file_id}")
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == sorted(f"Processed file ID: {i}" for i in range(10))
    assert len(fs.listdir("/parallel/output")) == 10
    assert json.loads(fs.readfile("/parallel/output/processed_file_3.json")) == {
        "id": 3,
        "processed": True,
    }


def test_custom_cli_script(capsys):
    fs = create_fs()
    fs.makedirs("/data", exist_ok=True)
    fs.writefile("/data/hello.txt", "Hello, world!")
    print("Filesystem contents:")
    for root, dirs, files in fs.walk("/"):
        print(f"Directory: {root}")
        for d in dirs:
            print(f"  Dir: {d}")
        for f in files:
            print(f"  File: {f}")
    assert capsys.readouterr().out == (
        "Filesystem contents:\nDirectory: /\n  Dir: data\nDirectory: /data\n  File: hello.txt\n"
    )


def test_the_original_import_paths():
    from memfs.memfs import MemoryFile, MemoryFS
    from memfs.memfs import create_fs as cf

    fs = cf()
    assert isinstance(fs, MemoryFS)
    with fs.open("/x", "wb", buffering=0) as f:
        assert isinstance(f, MemoryFile)
    # Instances are separate filesystems (the original shared one global dict).
    other = cf()
    assert fs.exists("/x") and not other.exists("/x")


def test_encrypted_and_compressed_files(capsys):
    from memfs.examples.custom_filesystem import create_extended_fs

    fs = create_extended_fs()
    with fs.open_encrypted("/secret.txt", "w", password="mysecret") as f:
        f.write("This is sensitive information")
    with fs.open_encrypted("/secret.txt", "r", password="mysecret") as f:
        content = f.read()
        print(content)
    with fs.open_compressed("/compressed.txt", "w", compression_level=9) as f:
        f.write("This content will be compressed " * 1000)
    normal_size = len(fs.readfile("/secret.txt"))
    compressed_size = len(fs._FS_DATA["files"]["/compressed.txt"])
    print(f"Compression ratio: {normal_size / compressed_size:.2f}x")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "This is sensitive information"
    assert out[1].startswith("Compression ratio: ")
    # The stored bytes are ciphertext and LZ4, not the text.
    assert b"sensitive" not in fs.readfilebytes("/secret.txt")
    assert compressed_size < 32 * 1000 / 10
    with fs.open_compressed("/compressed.txt") as f:
        assert f.read() == "This content will be compressed " * 1000


def test_grpc_service_pipeline(capsys):
    from memfs import create_fs
    from memfs.api import DynamicgRPCComponent, PipelineOrchestrator

    def transform_data(data):
        if isinstance(data, dict):
            data["transformed"] = True
        return data

    def format_data(data):
        if isinstance(data, dict):
            data["formatted"] = True
        return data

    fs = create_fs()
    fs.makedirs("/proto/transform", exist_ok=True)
    fs.makedirs("/proto/format", exist_ok=True)
    fs.makedirs("/generated/transform", exist_ok=True)
    fs.makedirs("/generated/format", exist_ok=True)
    transform_component = DynamicgRPCComponent(
        transform_data,
        proto_dir="/proto/transform",
        generated_dir="/generated/transform",
        port=50051,
    )
    format_component = DynamicgRPCComponent(
        format_data, proto_dir="/proto/format", generated_dir="/generated/format", port=50052
    )
    pipeline = PipelineOrchestrator()
    pipeline.add_component(transform_component)
    pipeline.add_component(format_component)
    result = pipeline.execute_pipeline({"input": "data"})
    print(result)  # {"input": "data", "transformed": true, "formatted": true}
    pipeline.stop()
    assert result == {"input": "data", "transformed": True, "formatted": True}
    assert capsys.readouterr().out == "{'input': 'data', 'transformed': True, 'formatted': True}\n"
    # The component wrote its proto and service description into its filesystem.
    assert transform_component.fs.listdir("/proto/transform") == ["transform_data.proto"]
