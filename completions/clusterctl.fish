# fish completion for clusterctl.  Every word comes from the binary
# (`clusterctl __complete`), generated from its command table.
#   clusterctl completion fish | source       or: make install

function __clusterctl_complete
	set -l words (commandline -opc)
	set -l cur (commandline -ct)
	set -l prog $words[1]
	set -e words[1]
	# "--cwd=dir": paths are completed after the '='.
	set -l pre (string match -r -- '^--[^=]*=' "$cur")
	set -l val (string replace -r -- '^--[^=]*=' '' "$cur")
	for c in (command $prog __complete --describe -- $words "$cur" 2>/dev/null)
		switch $c
			case @file
				for p in (__fish_complete_path $val)
					echo $pre$p
				end
			case @dir
				for p in (__fish_complete_directories $val)
					echo $pre$p
				end
			case '*'
				echo $c
		end
	end
end

complete -c clusterctl -f -a '(__clusterctl_complete)'
