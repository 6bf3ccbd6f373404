"""pyarrow and dask on ``memfs://``: parquet and csv written and read back through fsspec, as
a pipeline would (pandas is in ``test_fsspec_and_fixture.py``)."""

import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, PyFileSystem

import memfs
import memfs.fsspec


def frame(n):
    return pd.DataFrame(
        {"id": range(n), "v": [i * 0.5 for i in range(n)], "s": [f"r{i}" for i in range(n)]}
    )


def test_pandas_parquet_round_trip_through_pyarrow():
    fs = memfs.create_fs()
    f = fsspec.filesystem("memfs", fs=fs)
    df = frame(5000)
    df.to_parquet("/pq/x.parquet", filesystem=f)
    assert fs.readfilebytes("/pq/x.parquet")[:4] == b"PAR1"
    assert pd.read_parquet("/pq/x.parquet", filesystem=f).equals(df)
    # Column projection and row-group reads seek inside the file.
    table = pq.read_table("/pq/x.parquet", filesystem=f, columns=["s"])
    assert table.column("s").to_pylist()[4999] == "r4999"


def test_a_partitioned_pyarrow_dataset():
    f = fsspec.filesystem("memfs", fs=memfs.create_fs())
    pafs = PyFileSystem(FSSpecHandler(f))
    table = pa.table({"k": [1, 1, 2, 3], "x": [10, 20, 30, 40]})
    pq.write_to_dataset(table, "/ds", partition_cols=["k"], filesystem=pafs)
    assert sorted(p.split("/")[2] for p in f.find("/ds")) == ["k=1", "k=2", "k=3"]
    back = ds.dataset("/ds", filesystem=pafs, partitioning="hive").to_table()
    assert sorted(back.column("x").to_pylist()) == [10, 20, 30, 40]
    with pafs.open_output_stream("/c/a.csv") as out:
        out.write(b"a,b\n1,2\n3,4\n")
    assert pcsv.read_csv(pafs.open_input_stream("/c/a.csv")).to_pydict() == {
        "a": [1, 3],
        "b": [2, 4],
    }
    assert pafs.get_file_info("/c/a.csv").size == 12


def test_dask_reads_csv_parts_and_writes_parquet():
    fs = memfs.fsspec.default_fs()
    fs.makedirs("/dd", exist_ok=True)
    for i in range(3):
        fs.writefile(
            f"/dd/part{i}.csv", "id,v\n" + "".join(f"{i * 10 + j},{j}\n" for j in range(10))
        )
    df = dd.read_csv("memfs:///dd/part*.csv")
    assert df.npartitions == 3
    assert df.v.sum().compute() == 135
    df.assign(w=df.v * 2).to_parquet("memfs:///dd/out")
    assert sorted(fs.listdir("/dd/out")) == ["part.0.parquet", "part.1.parquet", "part.2.parquet"]
    assert dd.read_parquet("memfs:///dd/out").w.sum().compute() == 270
    fs.rmtree("/dd")
