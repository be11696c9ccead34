"""Contact names and how a native speaker reads them, written by hand (not produced by the code
under test). Categories follow issue #6; used by tests/test_pinyin.py and benchmarks/pinyin_accuracy.py."""

NAMES: dict[str, list[tuple[str, str]]] = {
    "compound": [
        ("欧阳修", "ou yang xiu"), ("司马光", "si ma guang"), ("诸葛亮", "zhu ge liang"), ("尉迟恭", "yu chi gong"),
        ("长孙无忌", "zhang sun wu ji"), ("万俟卨", "mo qi xie"), ("单于夫罗", "chan yu fu luo"),
        ("上官婉儿", "shang guan wan er"), ("令狐冲", "ling hu chong"), ("皇甫嵩", "huang fu song"),
        ("澹台灭明", "tan tai mie ming"), ("慕容复", "mu rong fu"), ("夏侯惇", "xia hou dun"),
        ("长孙晟", "zhang sun sheng"),
    ],
    "polyphonic": [
        ("曾国藩", "zeng guo fan"), ("单田芳", "shan tian fang"), ("解缙", "xie jin"), ("仇英", "qiu ying"),
        ("区志强", "ou zhi qiang"), ("查良镛", "zha liang yong"), ("朴树", "piao shu"), ("翟天临", "zhai tian lin"),
        ("盖聂", "ge nie"), ("缪可", "miao ke"), ("覃志刚", "qin zhi gang"), ("召忠", "shao zhong"),
        ("乐毅", "yue yi"), ("种师道", "chong shi dao"), ("冼星海", "xian xing hai"), ("曾志伟", "zeng zhi wei"),
        ("单雄信", "shan xiong xin"), ("尉缭", "wei liao"), ("曾", "zeng"), ("单", "shan"),
    ],
    "traditional": [
        ("萬里", "wan li"), ("單雄信", "shan xiong xin"), ("區永強", "ou yong qiang"), ("歐陽娜娜", "ou yang na na"),
        ("諸葛亮", "zhu ge liang"), ("蓋聶", "ge nie"), ("曾國藩", "zeng guo fan"), ("尉遲恭", "yu chi gong"),
        ("長孫無忌", "zhang sun wu ji"), ("司馬懿", "si ma yi"),
    ],
    "mixed-script": [
        ("Jack王", "jack wang"), ("王Jack", "wang jack"), ("Jack 单", "jack shan"), ("Mary 曾", "mary zeng"),
        ("曾 Tony", "zeng tony"), ("David Zhang", "david zhang"), ("单 Lily", "shan lily"),
        ("Anna欧阳", "anna ou yang"),
    ],
    "surname+title": [
        ("王总", "wang zong"), ("张老师", "zhang lao shi"), ("单老师", "shan lao shi"), ("李行长", "li hang zhang"),
        ("曾总", "zeng zong"), ("刘医生", "liu yi sheng"), ("陈会计", "chen kuai ji"), ("区经理", "ou jing li"),
        ("查大夫", "zha dai fu"), ("王校长", "wang xiao zhang"), ("老王", "lao wang"), ("小李", "xiao li"),
        ("老曾", "lao zeng"), ("小单", "xiao shan"), ("欧阳老师", "ou yang lao shi"),
    ],
    "plain": [
        ("张三丰", "zhang san feng"), ("李小龙", "li xiao long"), ("周杰伦", "zhou jie lun"), ("王菲", "wang fei"),
        ("刘德华", "liu de hua"), ("吕布", "lv bu"), ("女娲", "nv wa"),
    ],
}
